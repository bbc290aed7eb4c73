//! pgrx tests: run inside PostgreSQL by `cargo pgrx test`.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn uuid_v5_is_rfc4122() {
        // Python: uuid.uuid5(uuid.NAMESPACE_URL, 'http://www.postgresql.org')
        let got = Spi::get_one::<String>(
            "SELECT coreforge_sync.uuid_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'http://www.postgresql.org')::text",
        )
        .unwrap()
        .unwrap();
        assert_eq!(got, "e1ee1ad4-cd4e-5889-962a-4f605a68d94e");
    }
}
