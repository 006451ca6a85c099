-- The demo's database: a product catalogue read through the cache (GET /api/products/:id) and
-- edited by write-through (PUT /api/products/:id). Run once on an empty database, by the launcher
-- and by the postgres container's init.
CREATE TABLE products (
  id integer PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  stock integer NOT NULL CHECK (stock >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO products (id, name, price_cents, stock)
SELECT i,
  (ARRAY['Green', 'Black', 'Oolong', 'White', 'Smoked', 'Jasmine', 'Mint', 'Ginger'])[1 + i % 8]
    || ' '
    || (ARRAY['tea', 'mug', 'teapot', 'kettle', 'strainer', 'caddy', 'tray', 'cup'])[1 + (i / 8) % 8]
    || ' no. ' || i,
  100 + (i * 7919) % 4900,
  (i * 31) % 200
FROM generate_series(1, 1000) AS i;

-- The control panel's "slow the database down": every product read sleeps this long first.
CREATE TABLE demo_settings (
  read_delay_ms integer NOT NULL DEFAULT 0 CHECK (read_delay_ms BETWEEN 0 AND 10000)
);
INSERT INTO demo_settings DEFAULT VALUES;

-- The panel's "database queries/s" counts what this extension saw run in this database.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
