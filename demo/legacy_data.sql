-- Realistic, deterministic demo data for the legacy tables (run demo/legacy_schema.sql first).
--
--   psql -v ON_ERROR_STOP=1 -f demo/legacy_data.sql                 -- scale 1: ~3000 users,
--   psql -v ON_ERROR_STOP=1 -v scale=10 -f demo/legacy_data.sql     --   ~300 tenants, ~8000 memberships
--
-- Deterministic: every value comes from md5() of a key such as 'user:42:email', never from random(),
-- so the same scale always gives byte-identical data (ids included), and user/tenant N is the same
-- whatever the scale. Timestamps are relative to a fixed anchor (2025-11-01 12:00 UTC), not now().
--
-- What is in it (the awkward cases a sync must handle):
--   * names in many scripts: 'José Álvarez', 'Zoë Müller', '王芳', 'Åsa Ødegård', 'Наталья Иванова',
--     Arabic (right-to-left), Korean, Japanese, Turkish dotless i, an apostrophe (O'Brien)
--   * ~3% soft-deleted users and tenants (deleted_at set; updated_at = deleted_at)
--   * emails unique among live users (also case-insensitively), some Mixed-Case and some +tags;
--     about 40% of soft-deleted users share their email with a live user (deleted, then signed up again)
--   * avatar_url / logo_url: a URL, NULL, or '' (empty string)
--   * password_hash: argon2id PHC strings, bcrypt $2b$12$ (and a few older $2a$10$), NULL (SSO users), ''
--   * tenant settings: JSON objects of varying shape, some '{}', some NULL; plans free/starter/pro/enterprise
--   * every tenant has an owner membership (a live user); ~5% of tenants have two owners;
--     memberships also point at soft-deleted users and at soft-deleted tenants
--   * fixed rows for demos: users 1-5 are José Álvarez, Zoë Müller, 王芳, Åsa Ødegård, Наталья Иванова
--     (emails jose.alvarez@example.com, zoe.mueller@example.de, wang.fang@example.cn,
--     asa.odegard@example.no, natalya.ivanova@example.ru); user 6 is a soft-deleted earlier account
--     of Zoë Müller with the same email; tenant 1 is 'Acme Corp' (slug acme, owner José),
--     tenant 2 'Müller & Söhne GmbH' (mueller-soehne, owner Zoë), tenant 3 '北京星辰科技有限公司'
--     (xingchen-tech, owner 王芳), tenant 4 'Old Startup' (old-startup, soft-deleted, owner Åsa).
\set ON_ERROR_STOP 1
\set QUIET 1
\if :{?scale}
\else
\set scale 1
\endif
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';   -- timestamp arithmetic with months/days depends on it
SET client_min_messages = warning;

BEGIN;

TRUNCATE public.tenant_members, public.tenants, public.users;

-- ---- deterministic helpers (temporary: gone at the end of the session) ----------------------------
-- uniform double in [0,1) from a key
CREATE FUNCTION pg_temp.rnd(key text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ('x' || substr(md5(key), 1, 13))::bit(52)::bigint / 4503599627370496.0::double precision $$;

-- integer in [1, n] from a key
CREATE FUNCTION pg_temp.pick(n integer, key text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1 + floor(pg_temp.rnd(key) * n)::integer $$;

-- a version-4-shaped UUID from a key
CREATE FUNCTION pg_temp.uid(key text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (substr(h, 1, 12) || '4' || substr(h, 14, 3)
            || substr('89ab', 1 + (get_byte(decode(substr(h, 17, 2), 'hex'), 0) % 4), 1)
            || substr(h, 18, 15))::uuid
    FROM md5(key) AS h
$$;

-- n (<= 48) pseudo-random bytes from a key, as unpadded standard base64 (PHC style)
CREATE FUNCTION pg_temp.b64(key text, n integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT rtrim(replace(encode(substr(decode(md5(key || ':1') || md5(key || ':2') || md5(key || ':3'), 'hex'), 1, n),
                                'base64'), E'\n', ''), '=')
$$;

CREATE FUNCTION pg_temp.anchor() RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT timestamptz '2025-11-01 12:00:00+00' $$;

-- a timestamp between a and b
CREATE FUNCTION pg_temp.between_ts(a timestamptz, b timestamptz, key text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT date_trunc('second', a + (b - a) * pg_temp.rnd(key)) $$;

-- ---- name pools ------------------------------------------------------------------------------------
-- given/family names with ASCII spellings (for emails and slugs), weight = relative frequency
CREATE TEMP TABLE culture (
    id           integer PRIMARY KEY,
    weight       integer NOT NULL,
    given        text[]  NOT NULL,
    given_ascii  text[]  NOT NULL,
    family       text[]  NOT NULL,
    family_ascii text[]  NOT NULL,
    family_first boolean NOT NULL,
    sep          text    NOT NULL,
    domains      text[]  NOT NULL
) ON COMMIT DROP;

INSERT INTO culture VALUES
 (1, 5, '{Emily,James,Olivia,Noah,Liam,Ava,Sophia,Ethan,Grace,Henry}',
        '{emily,james,olivia,noah,liam,ava,sophia,ethan,grace,henry}',
        '{Smith,Johnson,Williams,Brown,O''Brien,Nguyen,Taylor,Anderson,Clarke,Murphy}',
        '{smith,johnson,williams,brown,obrien,nguyen,taylor,anderson,clarke,murphy}',
        false, ' ', '{gmail.com,outlook.com,yahoo.com,icloud.com,proton.me}'),
 (2, 3, '{José,María,Lucía,Andrés,Sofía,Martín,Íñigo,Begoña}',
        '{jose,maria,lucia,andres,sofia,martin,inigo,begona}',
        '{Álvarez,Muñoz,Peña,Gómez,Ibáñez,Suárez,Fernández,Núñez}',
        '{alvarez,munoz,pena,gomez,ibanez,suarez,fernandez,nunez}',
        false, ' ', '{gmail.com,hotmail.es,telefonica.net,outlook.com}'),
 (3, 3, '{Zoë,Jürgen,Günther,Anneliese,Lukas,Mia,Björn,Käthe}',
        '{zoe,juergen,guenther,anneliese,lukas,mia,bjoern,kaethe}',
        '{Müller,Schröder,Weiß,Groß,Köhler,Becker,Fußmann,Hoffmann}',
        '{mueller,schroeder,weiss,gross,koehler,becker,fussmann,hoffmann}',
        false, ' ', '{web.de,gmx.de,posteo.de,t-online.de,gmail.com}'),
 (4, 2, '{Åsa,Søren,Bjørn,Ingrid,Märta,Øystein,Sigrún,Jónas}',
        '{asa,soren,bjorn,ingrid,marta,oystein,sigrun,jonas}',
        '{Ødegård,Åberg,Sørensen,Lindqvist,Hæstad,Nyström,Þórsdóttir,Jökulsson}',
        '{odegard,aberg,sorensen,lindqvist,haestad,nystrom,thorsdottir,jokulsson}',
        false, ' ', '{online.no,telia.se,gmail.com,outlook.com}'),
 (5, 2, '{François,Chloé,Hélène,Jérôme,Noël,Léa,Amélie,Gaël}',
        '{francois,chloe,helene,jerome,noel,lea,amelie,gael}',
        '{Lefèvre,Dubois,Bélanger,Moreau,Côté,Garnier,Rousseau,Mercier}',
        '{lefevre,dubois,belanger,moreau,cote,garnier,rousseau,mercier}',
        false, ' ', '{orange.fr,free.fr,laposte.net,gmail.com}'),
 (6, 1, '{Наталья,Ольга,Анна,Екатерина,Татьяна}',
        '{natalya,olga,anna,ekaterina,tatyana}',
        '{Иванова,Смирнова,Кузнецова,Попова,Соколова}',
        '{ivanova,smirnova,kuznetsova,popova,sokolova}',
        false, ' ', '{yandex.ru,mail.ru,gmail.com}'),
 (7, 1, '{Дмитрий,Сергей,Иван,Алексей,Михаил}',
        '{dmitry,sergey,ivan,alexey,mikhail}',
        '{Иванов,Смирнов,Кузнецов,Попов,Соколов}',
        '{ivanov,smirnov,kuznetsov,popov,sokolov}',
        false, ' ', '{yandex.ru,mail.ru,gmail.com}'),
 (8, 2, '{芳,伟,娜,敏,静,磊,秀英,建华}',
        '{fang,wei,na,min,jing,lei,xiuying,jianhua}',
        '{王,李,张,刘,陈,杨,黄,赵}',
        '{wang,li,zhang,liu,chen,yang,huang,zhao}',
        true, '', '{qq.com,163.com,126.com,gmail.com}'),
 (9, 1, '{健太,花子,翔,美咲,陽菜}',
        '{kenta,hanako,sho,misaki,hina}',
        '{佐藤,鈴木,高橋,田中,渡辺}',
        '{sato,suzuki,takahashi,tanaka,watanabe}',
        true, '', '{docomo.ne.jp,yahoo.co.jp,gmail.com}'),
 (10, 1, '{Łukasz,Małgorzata,Paweł,Agnieszka,Jiří,Kateřina}',
        '{lukasz,malgorzata,pawel,agnieszka,jiri,katerina}',
        '{Nowak,Wójcik,Kowalczyk,Mazur,Krawczyk}',
        '{nowak,wojcik,kowalczyk,mazur,krawczyk}',
        false, ' ', '{wp.pl,onet.pl,seznam.cz,gmail.com}'),
 (11, 1, '{Çağla,Gökhan,Şule,Ömer,İlker}',
        '{cagla,gokhan,sule,omer,ilker}',
        '{Yılmaz,Öztürk,Çelik,Şahin,Doğan}',
        '{yilmaz,ozturk,celik,sahin,dogan}',
        false, ' ', '{gmail.com,hotmail.com,yandex.com.tr}'),
 (12, 1, '{محمد,فاطمة,أحمد,ليلى}',
        '{mohammed,fatima,ahmed,layla}',
        '{العلي,حسن,الحداد}',
        '{alali,hassan,alhaddad}',
        false, ' ', '{gmail.com,outlook.com,hotmail.com}'),
 (13, 1, '{민준,서연,지호,하은}',
        '{minjun,seoyeon,jiho,haeun}',
        '{김,이,박,최}',
        '{kim,lee,park,choi}',
        true, '', '{naver.com,daum.net,gmail.com}');

-- culture_slot[k] = culture id, each id repeated "weight" times
CREATE TEMP TABLE culture_slots ON COMMIT DROP AS
SELECT array_agg(id ORDER BY id) AS slots
FROM culture, generate_series(1, weight);

-- ---- users ------------------------------------------------------------------------------------------
CREATE TEMP TABLE gen_user ON COMMIT DROP AS
WITH params AS (
    SELECT greatest(1, round(3000 * (:scale)::numeric))::integer AS n_users
),
base AS (
    SELECT g.i,
           c.*,
           pg_temp.pick(cardinality(c.given), 'user:' || g.i || ':given') AS gi,
           pg_temp.pick(cardinality(c.family), 'user:' || g.i || ':family') AS fi,
           -- more recent sign-ups are more frequent (the app grew); spread over 6 years
           date_trunc('second', pg_temp.anchor()
               - interval '6 years' * power(pg_temp.rnd('user:' || g.i || ':created'), 1.6)) AS created_at
    FROM params, generate_series(1, params.n_users) AS g(i)
    JOIN culture c ON c.id = (SELECT slots[pg_temp.pick(cardinality(slots), 'user:' || g.i || ':culture')]
                              FROM culture_slots)
),
named AS (
    SELECT b.*,
           CASE WHEN b.family_first THEN b.family[b.fi] || b.sep || b.given[b.gi]
                ELSE b.given[b.gi] || b.sep || b.family[b.fi] END AS name,
           -- local parts always end in the user's number, and names have no digits: unique
           CASE pg_temp.pick(5, 'user:' || b.i || ':emailfmt')
               WHEN 1 THEN b.given_ascii[b.gi] || '.' || b.family_ascii[b.fi] || b.i
               WHEN 2 THEN left(b.given_ascii[b.gi], 1) || b.family_ascii[b.fi] || b.i
               WHEN 3 THEN b.family_ascii[b.fi] || '.' || b.given_ascii[b.gi] || b.i
               WHEN 4 THEN b.given_ascii[b.gi] || '_' || b.family_ascii[b.fi] || '_' || b.i
               ELSE b.given_ascii[b.gi] || b.i
           END AS local_part,
           CASE WHEN pg_temp.rnd('user:' || b.i || ':domainkind') < 0.75
                THEN b.domains[pg_temp.pick(cardinality(b.domains), 'user:' || b.i || ':domain')]
                ELSE (ARRAY['example.com', 'acme.example', 'mueller-soehne.example', 'fastmail.com',
                            'hey.com', 'startup.io'])[pg_temp.pick(6, 'user:' || b.i || ':domain2')]
           END AS domain
    FROM base b
),
dated AS (
    SELECT n.*,
           CASE WHEN pg_temp.rnd('user:' || n.i || ':deleted') < 0.03
                THEN pg_temp.between_ts(n.created_at, pg_temp.anchor(), 'user:' || n.i || ':deleted_at')
           END AS deleted_at
    FROM named n
)
SELECT d.i,
       pg_temp.uid('user:' || d.i) AS id,
       CASE
           WHEN pg_temp.rnd('user:' || d.i || ':emailcase') < 0.05   -- some people type Mixed.Case@Domain
               THEN initcap(d.local_part) || '@' || initcap(d.domain)
           WHEN pg_temp.rnd('user:' || d.i || ':emailtag') < 0.03
               THEN d.local_part || '+' || (ARRAY['work', 'saas', 'legacy', 'test'])[pg_temp.pick(4, 'user:' || d.i || ':tag')]
                    || '@' || d.domain
           ELSE d.local_part || '@' || d.domain
       END AS email,
       d.name,
       CASE
           WHEN r.avatar < 0.25 THEN NULL
           WHEN r.avatar < 0.45 THEN ''
           WHEN r.avatar < 0.80 THEN 'https://cdn.legacy-app.example/avatars/' || substr(md5('user:' || d.i || ':avatar'), 1, 20) || '.jpg'
           ELSE 'https://www.gravatar.com/avatar/' || md5(lower(d.local_part || '@' || d.domain)) || '?s=200&d=identicon'
       END AS avatar_url,
       CASE
           WHEN r.pw < 0.40 THEN '$argon2id$v=19$m=65536,t=3,p=4$' || pg_temp.b64('user:' || d.i || ':salt', 16)
                                 || '$' || pg_temp.b64('user:' || d.i || ':hash', 32)
           WHEN r.pw < 0.45 THEN '$argon2id$v=19$m=19456,t=2,p=1$' || pg_temp.b64('user:' || d.i || ':salt', 16)
                                 || '$' || pg_temp.b64('user:' || d.i || ':hash', 32)
           WHEN r.pw < 0.78 THEN '$2b$12$' || left(translate(pg_temp.b64('user:' || d.i || ':bcrypt', 40), '+/', './'), 53)
           WHEN r.pw < 0.80 THEN '$2a$10$' || left(translate(pg_temp.b64('user:' || d.i || ':bcrypt', 40), '+/', './'), 53)
           WHEN r.pw < 0.92 THEN NULL          -- signed up with SSO, never had a password
           ELSE ''                             -- "cleared" by an old admin tool
       END AS password_hash,
       d.created_at,
       CASE
           WHEN d.deleted_at IS NOT NULL THEN d.deleted_at
           WHEN pg_temp.rnd('user:' || d.i || ':touched') < 0.3 THEN d.created_at
           ELSE pg_temp.between_ts(d.created_at, pg_temp.anchor(), 'user:' || d.i || ':updated_at')
       END AS updated_at,
       d.deleted_at
FROM dated d
CROSS JOIN LATERAL (SELECT pg_temp.rnd('user:' || d.i || ':avatar') AS avatar,
                           pg_temp.rnd('user:' || d.i || ':pw') AS pw) AS r;

-- Fixed users for demos (users 1-6)
UPDATE gen_user g
SET name = f.name, email = f.email, deleted_at = f.deleted_at,
    updated_at = coalesce(f.deleted_at, g.updated_at),
    created_at = least(g.created_at, coalesce(f.deleted_at - interval '400 days', g.created_at))
FROM (VALUES
    (1, 'José Álvarez',    'jose.alvarez@example.com', NULL::timestamptz),
    (2, 'Zoë Müller',      'zoe.mueller@example.de',   NULL),
    (3, '王芳',            'wang.fang@example.cn',     NULL),
    (4, 'Åsa Ødegård',     'asa.odegard@example.no',   NULL),
    (5, 'Наталья Иванова', 'natalya.ivanova@example.ru', NULL),
    (6, 'Zoë Müller',      'zoe.mueller@example.de',   timestamptz '2021-03-14 09:26:53+00')
) AS f(i, name, email, deleted_at)
WHERE g.i = f.i;

-- ~40% of the (other) soft-deleted users share their email with a live user: they deleted their
-- account and signed up again later.
UPDATE gen_user g
SET email = l.email
FROM (SELECT i, row_number() OVER (ORDER BY md5('reuse:' || i)) AS rn
      FROM gen_user
      WHERE deleted_at IS NOT NULL AND i > 6 AND pg_temp.rnd('user:' || i || ':reuse') < 0.4) AS d
JOIN (SELECT email, row_number() OVER (ORDER BY md5('reuse-live:' || i)) AS rn
      FROM gen_user
      WHERE deleted_at IS NULL AND i > 6) AS l USING (rn)
WHERE g.i = d.i;

INSERT INTO public.users (id, email, name, avatar_url, password_hash, created_at, updated_at, deleted_at)
SELECT id, email, name, avatar_url, password_hash, created_at, updated_at, deleted_at
FROM gen_user
ORDER BY i;

-- ---- tenants ----------------------------------------------------------------------------------------
CREATE TEMP TABLE gen_tenant ON COMMIT DROP AS
WITH params AS (
    SELECT greatest(4, round(300 * (:scale)::numeric))::integer AS n_tenants
),
words AS (
    SELECT '{Blue,Nordic,Golden,Quantum,Silver,Rapid,Bright,Crimson,Åland,Zürich,Köln,Søndre,Mañana,Étoile,Polar,Urban,Lucky,Iron}'::text[] AS adj,
           '{blue,nordic,golden,quantum,silver,rapid,bright,crimson,aland,zurich,koln,sondre,manana,etoile,polar,urban,lucky,iron}'::text[] AS adj_ascii,
           '{Harbor,Pixel,Forge,Orchard,Summit,Ledger,Beacon,Fjord,Café,Bäckerei,Atelier,Werkstatt,Studio,Analytics,Logistics,Robotics,Bränderi,Ström}'::text[] AS noun,
           '{harbor,pixel,forge,orchard,summit,ledger,beacon,fjord,cafe,baeckerei,atelier,werkstatt,studio,analytics,logistics,robotics,branderi,strom}'::text[] AS noun_ascii,
           '{"",""," GmbH"," AB"," AS"," Inc."," Ltd"," LLC"," SARL"," S.L."," Oy"," & Co."," ApS"," sp. z o.o."}'::text[] AS suffix,
           '{星辰科技有限公司,東京デザイン株式会社,ООО «Ромашка»,Сибирские Системы,Ελληνική Ψηφιακή,서울 소프트웨어,Łódź Software,Ñandú Estudio,Dvořák & Syn,مكتب الحداد}'::text[] AS special,
           '{xingchen-keji,tokyo-design,romashka,sibirskie-sistemy,elliniki-psifiaki,seoul-software,lodz-software,nandu-estudio,dvorak-syn,maktab-alhaddad}'::text[] AS special_ascii
),
base AS (
    SELECT g.i, w.*,
           pg_temp.pick(cardinality(w.adj), 'tenant:' || g.i || ':adj') AS ai,
           pg_temp.pick(cardinality(w.noun), 'tenant:' || g.i || ':noun') AS ni,
           pg_temp.pick(cardinality(w.suffix), 'tenant:' || g.i || ':suffix') AS si,
           pg_temp.pick(cardinality(w.special), 'tenant:' || g.i || ':special') AS xi,
           pg_temp.rnd('tenant:' || g.i || ':kind') < 0.12 AS is_special,
           date_trunc('second', pg_temp.anchor()
               - interval '6 years' * power(pg_temp.rnd('tenant:' || g.i || ':created'), 1.3)) AS created_at
    FROM params, words w, generate_series(1, params.n_tenants) AS g(i)
),
named AS (
    SELECT b.*,
           CASE WHEN b.is_special THEN b.special[b.xi]
                ELSE b.adj[b.ai] || ' ' || b.noun[b.ni] || b.suffix[b.si] END AS name,
           CASE WHEN b.is_special THEN b.special_ascii[b.xi]
                ELSE b.adj_ascii[b.ai] || '-' || b.noun_ascii[b.ni] END AS slug_base,
           CASE WHEN pg_temp.rnd('tenant:' || b.i || ':deleted') < 0.03
                THEN pg_temp.between_ts(b.created_at, pg_temp.anchor(), 'tenant:' || b.i || ':deleted_at')
           END AS deleted_at
    FROM base b
)
SELECT n.i,
       pg_temp.uid('tenant:' || n.i) AS id,
       n.name,
       -- first tenant with a given base gets it, later ones get -2, -3, ...
       n.slug_base || CASE WHEN row_number() OVER w > 1 THEN '-' || row_number() OVER w ELSE '' END AS slug,
       n.deleted_at,
       n.created_at,
       CASE WHEN n.deleted_at IS NOT NULL THEN n.deleted_at
            WHEN pg_temp.rnd('tenant:' || n.i || ':touched') < 0.2 THEN n.created_at
            ELSE pg_temp.between_ts(n.created_at, pg_temp.anchor(), 'tenant:' || n.i || ':updated_at')
       END AS updated_at,
       CASE WHEN r.plan < 0.50 THEN 'free'
            WHEN r.plan < 0.75 THEN 'starter'
            WHEN r.plan < 0.92 THEN 'pro'
            ELSE 'enterprise' END AS plan,
       r.logo, r.settings
FROM named n
CROSS JOIN LATERAL (SELECT pg_temp.rnd('tenant:' || n.i || ':plan') AS plan,
                           pg_temp.rnd('tenant:' || n.i || ':logo') AS logo,
                           pg_temp.rnd('tenant:' || n.i || ':settings') AS settings) AS r
WINDOW w AS (PARTITION BY n.slug_base ORDER BY n.i);

-- Fixed tenants for demos (tenants 1-4)
UPDATE gen_tenant g
SET name = f.name, slug = f.slug, deleted_at = f.deleted_at,
    updated_at = coalesce(f.deleted_at, g.updated_at),
    created_at = least(g.created_at, coalesce(f.deleted_at - interval '400 days', g.created_at))
FROM (VALUES
    (1, 'Acme Corp',             'acme',           NULL::timestamptz),
    (2, 'Müller & Söhne GmbH',   'mueller-soehne', NULL),
    (3, '北京星辰科技有限公司',  'xingchen-tech',  NULL),
    (4, 'Old Startup',           'old-startup',    timestamptz '2022-08-31 17:00:00+00')
) AS f(i, name, slug, deleted_at)
WHERE g.i = f.i;

INSERT INTO public.tenants (id, name, slug, logo_url, settings, plan, created_at, updated_at, deleted_at)
SELECT g.id, g.name, g.slug,
       CASE WHEN g.logo < 0.40 THEN NULL
            WHEN g.logo < 0.50 THEN ''
            ELSE 'https://cdn.legacy-app.example/logos/' || g.slug || '.png' END,
       CASE
           WHEN g.settings < 0.15 THEN NULL
           WHEN g.settings < 0.25 THEN '{}'::jsonb
           ELSE jsonb_strip_nulls(jsonb_build_object(
               'theme', (ARRAY['light', 'dark', 'system'])[pg_temp.pick(3, 'tenant:' || g.i || ':theme')],
               'locale', (ARRAY['en-US', 'en-GB', 'de-DE', 'es-ES', 'fr-FR', 'nb-NO', 'zh-CN', 'ja-JP', 'ru-RU'])
                             [pg_temp.pick(9, 'tenant:' || g.i || ':locale')],
               'timezone', CASE WHEN pg_temp.rnd('tenant:' || g.i || ':has_tz') < 0.6 THEN
                   (ARRAY['UTC', 'Europe/Berlin', 'Europe/Oslo', 'America/New_York', 'Asia/Shanghai', 'Asia/Tokyo'])
                       [pg_temp.pick(6, 'tenant:' || g.i || ':tz')] END,
               'seats', CASE WHEN g.plan <> 'free' THEN 5 * pg_temp.pick(40, 'tenant:' || g.i || ':seats') END,
               'features', jsonb_build_object(
                   'sso', g.plan IN ('pro', 'enterprise'),
                   'audit_log', g.plan = 'enterprise',
                   'api_access', pg_temp.rnd('tenant:' || g.i || ':api') < 0.5),
               'branding', CASE WHEN pg_temp.rnd('tenant:' || g.i || ':branding') < 0.3 THEN
                   jsonb_build_object('primary_color', '#' || substr(md5('tenant:' || g.i || ':color'), 1, 6),
                                      'tagline', g.name || ' — since ' || extract(year FROM g.created_at)) END,
               'legacy_billing_id', CASE WHEN pg_temp.rnd('tenant:' || g.i || ':billing') < 0.2 THEN
                   'cus_' || substr(md5('tenant:' || g.i || ':billing_id'), 1, 14) END
           ))
       END,
       g.plan, g.created_at, g.updated_at, g.deleted_at
FROM gen_tenant g
ORDER BY g.i;

-- ---- memberships ------------------------------------------------------------------------------------
CREATE TEMP TABLE live_user ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY i) AS rn, i, id, created_at
FROM gen_user WHERE deleted_at IS NULL;

-- owners: one live user per tenant, a second owner for ~5%. Tenants 1-4 are owned by users 1-4
-- (José, Zoë, 王芳, Åsa); users 1-5 are live, so their rank among live users is their number.
INSERT INTO public.tenant_members (user_id, tenant_id, role, created_at)
SELECT DISTINCT ON (t.id, u.id)
       u.id, t.id, 'owner',
       greatest(t.created_at, u.created_at)
FROM gen_tenant t
CROSS JOIN LATERAL (
    SELECT 1 AS k
    UNION ALL
    SELECT 2 WHERE pg_temp.rnd('tenant:' || t.i || ':coowner') < 0.05
) AS o
JOIN live_user u ON u.rn = CASE WHEN t.i <= 4 AND o.k = 1 THEN t.i
                                ELSE pg_temp.pick((SELECT count(*)::integer FROM live_user),
                                                  'tenant:' || t.i || ':owner:' || o.k) END
ORDER BY t.id, u.id;

-- other members: heavy-tailed tenant sizes (most small, a few large), any user (soft-deleted ones
-- too), ~12% admins. A (tenant, user) pair is never repeated, and owners are not added twice.
INSERT INTO public.tenant_members (user_id, tenant_id, role, created_at)
SELECT DISTINCT ON (t.id, u.id)
       u.id, t.id,
       CASE WHEN pg_temp.rnd('member:' || t.i || ':' || k || ':role') < 0.12 THEN 'admin' ELSE 'member' END,
       pg_temp.between_ts(greatest(t.created_at, u.created_at), pg_temp.anchor(),
                          'member:' || t.i || ':' || k || ':joined')
FROM gen_tenant t
CROSS JOIN LATERAL generate_series(1, floor(130 * power(pg_temp.rnd('tenant:' || t.i || ':size'), 4))::integer) AS k
JOIN gen_user u ON u.i = pg_temp.pick((SELECT count(*)::integer FROM gen_user), 'member:' || t.i || ':' || k)
ORDER BY t.id, u.id
ON CONFLICT (tenant_id, user_id) DO NOTHING;

-- ---- invariants: fail loudly if the generator is wrong ------------------------------------------
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM (
        SELECT lower(email) FROM public.users WHERE deleted_at IS NULL GROUP BY 1 HAVING count(*) > 1) d;
    IF n > 0 THEN RAISE EXCEPTION 'legacy_data: % duplicate emails among live users', n; END IF;

    SELECT count(*) INTO n FROM public.tenants WHERE slug !~ '^[a-z][a-z0-9-]*[a-z0-9]$';
    IF n > 0 THEN RAISE EXCEPTION 'legacy_data: % malformed slugs', n; END IF;

    SELECT count(*) INTO n FROM public.tenants t
    WHERE NOT EXISTS (SELECT 1 FROM public.tenant_members m WHERE m.tenant_id = t.id AND m.role = 'owner');
    IF n > 0 THEN RAISE EXCEPTION 'legacy_data: % tenants without an owner', n; END IF;

    SELECT count(*) INTO n FROM public.users WHERE updated_at < created_at OR deleted_at < created_at;
    IF n > 0 THEN RAISE EXCEPTION 'legacy_data: % users with timestamps out of order', n; END IF;
END
$$;

COMMIT;

ANALYZE public.users, public.tenants, public.tenant_members;
RESET client_min_messages;
\set QUIET 0

\echo 'legacy data loaded, scale =' :scale
\echo '(a tenant_members row counts as soft_deleted when its user or its tenant is soft-deleted)'
SELECT "table", live, soft_deleted, total
FROM (
    SELECT 'users' AS "table",
           count(*) FILTER (WHERE deleted_at IS NULL) AS live,
           count(*) FILTER (WHERE deleted_at IS NOT NULL) AS soft_deleted,
           count(*) AS total
    FROM public.users
    UNION ALL
    SELECT 'tenants',
           count(*) FILTER (WHERE deleted_at IS NULL),
           count(*) FILTER (WHERE deleted_at IS NOT NULL),
           count(*)
    FROM public.tenants
    UNION ALL
    SELECT 'tenant_members',
           count(*) FILTER (WHERE u.deleted_at IS NULL AND t.deleted_at IS NULL),
           count(*) FILTER (WHERE u.deleted_at IS NOT NULL OR t.deleted_at IS NOT NULL),
           count(*)
    FROM public.tenant_members m
    JOIN public.users u ON u.id = m.user_id
    JOIN public.tenants t ON t.id = m.tenant_id
) AS counts
ORDER BY array_position(ARRAY['users', 'tenants', 'tenant_members'], "table");
