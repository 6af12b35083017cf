-- 100,000 users with ids 1..100000 (the scenarios read and page over them). Idempotent:
-- rows already there are kept.
INSERT INTO users (id, username, email, full_name, age, created_at)
SELECT g, 'user' || g, 'user' || g || '@example.test', 'User Number ' || g, 18 + g % 60,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 100000) AS g
ON CONFLICT (id) DO NOTHING;
ANALYZE users;
