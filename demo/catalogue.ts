import pg from "pg";

/** A row of the products table (demo/products.sql), as the API returns it. */
export interface Product {
  id: number;
  name: string;
  priceCents: number;
  stock: number;
  /** ISO 8601: when it last changed. */
  updatedAt: string;
}

/** What a PUT may change. */
export type ProductChanges = Partial<Pick<Product, "name" | "priceCents" | "stock">>;

/** The database did not answer: a 503, not a 500. */
export class DatabaseUnavailableError extends Error {
  override readonly name = "DatabaseUnavailableError";
  readonly status = 503;
}

const COLUMNS = "id, name, price_cents, stock, updated_at";

interface Row {
  id: number;
  name: string;
  price_cents: number;
  stock: number;
  updated_at: Date;
}

function product(row: Row | undefined): Product | null {
  if (row === undefined) return null;
  return {
    id: row.id,
    name: row.name,
    priceCents: row.price_cents,
    stock: row.stock,
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * The demo's products in PostgreSQL: reads (slowed by the control panel's `read_delay_ms`) and
 * updates, on a small pool. A query that cannot get a connection or an answer in time throws a
 * DatabaseUnavailableError.
 */
export class Catalogue {
  readonly #pool: pg.Pool;

  constructor(connectionString: string) {
    this.#pool = new pg.Pool({
      connectionString,
      max: 10,
      connectionTimeoutMillis: 5_000,
      // Past the panel's slowest "slow database" setting (10 s): a query that long is stuck.
      query_timeout: 15_000,
    });
    // An idle connection the server closed (a restart): the pool replaces it on the next query.
    this.#pool.on("error", () => undefined);
  }

  /** The product, or null if there is none with that id. */
  async read(id: number): Promise<Product | null> {
    const { rows } = await this.#query<Row>(
      `WITH pause AS (SELECT pg_sleep(read_delay_ms / 1000.0) FROM demo_settings)
       SELECT ${COLUMNS} FROM products, pause WHERE id = $1`,
      [id],
    );
    return product(rows[0]);
  }

  /** Applies `changes` and returns the product as it is now, or null if there is none. */
  async update(id: number, changes: ProductChanges): Promise<Product | null> {
    const { rows } = await this.#query<Row>(
      `UPDATE products SET name = coalesce($2, name), price_cents = coalesce($3, price_cents),
         stock = coalesce($4, stock), updated_at = clock_timestamp()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, changes.name ?? null, changes.priceCents ?? null, changes.stock ?? null],
    );
    return product(rows[0]);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #query<R extends pg.QueryResultRow>(
    sql: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(sql, values);
    } catch (error) {
      // A constraint the input broke is the caller's error; anything else is the database's.
      if (error instanceof pg.DatabaseError && error.code?.startsWith("23")) throw error;
      throw new DatabaseUnavailableError(
        `the database did not answer: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
