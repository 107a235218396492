/**
 * Stock on the database: reservations taken, committed and released with conditional updates
 * inside transactions, so concurrent checkouts on any number of nodes can never oversell.
 *
 * Invariant (also a CHECK constraint on PostgreSQL and MariaDB): 0 <= reserved <= stock.
 * A reservation row moves active -> committed | released exactly once; every move is a
 * conditional update on the row's status, and the product counters move in the same transaction.
 */
import { ForeignKeyConstraintError, Op, literal, UniqueConstraintError, type Sequelize, type Transaction } from "sequelize";
import { changedRows, ConcurrentChangeError, insertAtOnce, insertInto, inTransaction, type TableRows } from "../../lib/sql";
import { runStatement, selectRows } from "../../lib/sql-statements";
import { CLAIMED } from "../../lib/events/stores";
import { DomainError, notFound } from "../../lib/errors";
import { Product, StockReservation } from "./product.model";
import { normalizeLines, toReservation, type Reservation, type Shortage, type StockLine } from "./stock";

/** A whole number for SQL literals; parameters are validated before they get here. */
const units = (n: number): number => {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a quantity: ${n}`);
  return n;
};

/** What settling a reservation takes off the product, by the quantity each line held. */
export type Settled = "committed" | "released";
const SETTLED_COUNTERS: Record<Settled, readonly string[]> = { committed: ["stock", "reserved"], released: ["reserved"] };
const lowered = (columns: readonly string[], by: string) => columns.map((column) => `${column} = ${column} - ${by}`).join(", ");

/**
 * PostgreSQL, inside one statement: `locked`, the products whose ids `ids` (a subquery) names,
 * locked in id order as every stock movement takes them; the statement's UPDATE of products then
 * keeps to `products.id IN (SELECT id FROM locked)`, so no two movements wait for each other in a cycle.
 */
const lockedInIdOrder = (ids: string) => `locked AS (SELECT id FROM products WHERE id IN (${ids}) ORDER BY id FOR NO KEY UPDATE)`;

/** settleOnce's statement refused itself: the reservation's rows moved between its read and its statement. */
const movedMeanwhile = (err: unknown) => (err as { original?: { code?: string } }).original?.code === "22012";

const insufficientStock = (shortages: Shortage[]) => new DomainError(409, "INSUFFICIENT_STOCK", "Not enough stock for some lines", { shortages });

/** The row a stock movement writes beside it, atomically (the products service's outbox row of its stock event), if any. */
export type StockEventRow = (type: "stock.reserved" | "stock.released" | "stock.updated", orderId: string, lines: StockLine[]) => TableRows | undefined;

/** A reservation row whose product the statement did not take: PostgreSQL's not-null violation (see reserveAtOnce). */
const lineNotTaken = (err: unknown) => {
  const original = (err as { original?: { code?: string; column?: string } }).original;
  return original?.code === "23502" && original.column === "product_id";
};

export class Inventory {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly reservationTtlMs: number,
    private readonly now: () => Date = () => new Date(),
    private readonly eventRow: StockEventRow = () => undefined,
  ) {}

  /** Writes the movement's event row in its transaction. */
  private async moved(transaction: Transaction, ...movement: Parameters<StockEventRow>): Promise<void> {
    const row = this.eventRow(...movement);
    if (row) await insertAtOnce(this.sequelize, [row], transaction);
  }

  /** The movement's event row as the INSERT of a larger statement: its head, its `?` marks and their values. */
  private eventInsert(...movement: Parameters<StockEventRow>): { head: string; marks: string; values: unknown[] } | undefined {
    const event = this.eventRow(...movement);
    if (!event) return undefined;
    const { head, columns, marks } = insertInto(this.sequelize, event.table, event.rows[0]);
    return { head, marks, values: columns.map((column) => event.rows[0][column]) };
  }

  /**
   * Reserves every line or none. Idempotent per order: a repeat returns the first reservation.
   * The (hot) product rows are held as briefly as the database allows:
   * - PostgreSQL: one statement (reserveAtOnce), so a product row is locked for that statement
   *   alone, not across round trips to this process and back.
   * - MariaDB and SQLite: a transaction, the conditional updates in product order, then the rows
   *   (on MariaDB the rows' foreign-key check share-locks the product row, and two checkouts that
   *   took it first deadlock).
   */
  async reserve(orderId: string, lines: StockLine[]): Promise<Reservation> {
    const wanted = normalizeLines(lines);
    const now = this.now();
    const expiresAt = new Date(now.getTime() + this.reservationTtlMs);
    try {
      if (this.sequelize.getDialect() === "postgres") await this.reserveAtOnce(orderId, wanted, now, expiresAt);
      else await this.reserveInTransaction(orderId, wanted, now, expiresAt);
      return { orderId, status: "active", expiresAt: expiresAt.toISOString(), lines: wanted };
    } catch (err) {
      // This order is reserved already (a repeat, or a concurrent call that inserted first): that reservation
      // stands. (A repeat finds the units taken by its first call, so it may also come here as a shortage.)
      const shortage = err instanceof ForeignKeyConstraintError || lineNotTaken(err) || (err instanceof DomainError && err.type === "INSUFFICIENT_STOCK");
      const first = shortage || err instanceof UniqueConstraintError ? await this.rowsOf(orderId) : [];
      if (first.length) return toReservation(orderId, first);
      // A product missing, inactive or short: which lines, read after the statement failed.
      if (shortage && !(err instanceof DomainError)) throw await this.shortageError(wanted);
      throw err;
    }
  }

  /**
   * The reservation as one PostgreSQL statement: the product rows are locked in id order (as every
   * other stock movement takes them), updated where their stock allows, then one reservation row
   * per wanted line names the product row its update took. A line not taken names none, and the
   * NOT NULL on product_id fails the whole statement: nothing is reserved, nothing is written.
   * The stock event goes in the same statement. A repeat of the order fails the unique index.
   */
  private async reserveAtOnce(orderId: string, wanted: StockLine[], now: Date, expiresAt: Date): Promise<void> {
    const eventInsert = this.eventInsert("stock.reserved", orderId, wanted);
    await runStatement(
      this.sequelize,
      `WITH wanted (product_id, quantity) AS (VALUES ${wanted.map(() => "(?::integer, ?::integer)").join(", ")}),
       ${lockedInIdOrder("SELECT product_id FROM wanted")},
       taken AS (
         UPDATE products SET reserved = reserved + wanted.quantity, updated_at = ?
         FROM wanted
         WHERE products.id = wanted.product_id AND products.id IN (SELECT id FROM locked)
           AND products.is_active AND products.stock - products.reserved >= wanted.quantity
         RETURNING products.id
       )${eventInsert ? ", reserved AS (" : ""}
       INSERT INTO stock_reservations (order_id, product_id, quantity, status, expires_at, created_at, updated_at)
       SELECT ?, taken.id, wanted.quantity, 'active', ?, ?, ? FROM wanted LEFT JOIN taken ON taken.id = wanted.product_id
       ${eventInsert ? `) ${eventInsert.head} VALUES (${eventInsert.marks})` : ""}`,
      [
        ...wanted.flatMap((l) => [l.productId, units(l.quantity)]),
        now,
        orderId, expiresAt, now, now,
        ...(eventInsert?.values ?? []),
      ],
    );
  }

  private reserveInTransaction(orderId: string, wanted: StockLine[], now: Date, expiresAt: Date): Promise<void> {
    return inTransaction(this.sequelize, async (transaction) => {
      await this.moved(transaction, "stock.reserved", orderId, wanted);
      const shortages: Shortage[] = [];
      for (const line of wanted) {
        const q = units(line.quantity);
        const taken = await changedRows(
          this.sequelize,
          "UPDATE products SET reserved = reserved + ?, updated_at = ? WHERE id = ? AND is_active = ? AND stock - reserved >= ?",
          [q, now, line.productId, true, q],
          transaction,
        );
        if (taken === 0) shortages.push(await this.shortageOf(line, transaction));
      }
      if (shortages.length) throw insufficientStock(shortages);
      // One (order, product) row each, unique: a repeat of this order fails here, and reads the first.
      await runStatement(
        this.sequelize,
        `INSERT INTO stock_reservations (order_id, product_id, quantity, status, expires_at, created_at, updated_at) VALUES ${wanted.map(() => "(?, ?, ?, 'active', ?, ?, ?)").join(", ")}`,
        wanted.flatMap((l) => [orderId, l.productId, units(l.quantity), expiresAt, now, now]),
        transaction,
      );
    });
  }

  /** Turns the reservation into a sale: stock and reserved both go down. Idempotent. */
  async commit(orderId: string, transaction?: Transaction): Promise<Reservation> {
    return this.settle(orderId, "committed", transaction);
  }

  /** Gives the reserved units back. Idempotent; an order with no reservation is already released. */
  async release(orderId: string, transaction?: Transaction): Promise<Reservation> {
    return this.settle(orderId, "released", transaction);
  }

  /**
   * On PostgreSQL, settles an active reservation for an event, once per event id, in one statement,
   * so no product row is held across round trips: the event id claimed (processed_events), the
   * order's active rows moved, the product counters lowered by what those rows held (product rows
   * locked in id order, as everywhere), and the stock event written. The event's lines come from a
   * read just before: if some rows moved in between, the statement's last line divides by zero, the
   * one way a statement can refuse itself, and nothing is written.
   * Returns "duplicate", the settled reservation, or undefined where this does not apply (another
   * database, no event row, a reservation not simply active, or one that moved meanwhile): then
   * the caller settles in a transaction, which handles every case.
   */
  async settleOnce(claim: { consumer: string; eventId: string }, orderId: string, to: Settled): Promise<"duplicate" | Reservation | undefined> {
    if (this.sequelize.getDialect() !== "postgres") return undefined;
    const rows = await this.rowsOf(orderId);
    const current = rows.length ? toReservation(orderId, rows) : undefined;
    const event = current?.status === "active" ? this.eventInsert(to === "committed" ? "stock.updated" : "stock.released", orderId, current.lines) : undefined;
    if (!current || !event) return undefined;
    const now = this.now();
    try {
      const { rows: [result] } = await runStatement<{ claimed: string | number }>(
        this.sequelize,
        `WITH ${CLAIMED},
         moved AS (
           UPDATE stock_reservations SET status = ?, updated_at = ?
           WHERE order_id = ? AND status = 'active' AND EXISTS (SELECT 1 FROM claimed)
           RETURNING product_id, quantity
         ),
         ${lockedInIdOrder("SELECT product_id FROM moved")},
         counters AS (
           UPDATE products SET ${lowered(SETTLED_COUNTERS[to], "held.quantity")}, updated_at = ?
           FROM (SELECT product_id, SUM(quantity) AS quantity FROM moved GROUP BY product_id) held
           WHERE products.id = held.product_id AND products.id IN (SELECT id FROM locked)
         ),
         event AS (${event.head} SELECT ${event.marks} FROM claimed)
         SELECT c.n AS claimed, 1 / CASE WHEN c.n = 0 OR m.n = ? THEN 1 ELSE 0 END AS settled
         FROM (SELECT COUNT(*) AS n FROM claimed) c, (SELECT COUNT(*) AS n FROM moved) m`,
        [claim.consumer, claim.eventId, now, to, now, orderId, now, ...event.values, rows.length],
      );
      return Number(result.claimed) === 0 ? "duplicate" : { ...current, status: to };
    } catch (err) {
      if (movedMeanwhile(err)) return undefined;
      throw err;
    }
  }

  /**
   * Puts a fully refunded order's units back on the shelf. Once per order. The refund can arrive
   * before the order's sale was committed (order.paid and payment.refunded travel on different
   * topics): then the goods never left, the reservation is released, and the late commit finds
   * nothing to sell.
   */
  async restock(orderId: string, transaction: Transaction): Promise<StockLine[]> {
    const all = await this.rowsOf(orderId, transaction);
    if (all.length && toReservation(orderId, all).status === "active") return (await this.release(orderId, transaction)).lines;
    const rows = all.filter((r) => r.status === "committed");
    if (rows.length === 0) return [];
    await this.moveRows(orderId, "committed", "restocked", rows.length, transaction);
    const lines = normalizeLines(rows.map((r) => ({ productId: r.productId, quantity: r.quantity })));
    await this.moved(transaction, "stock.updated", orderId, lines);
    await this.moveCounters(lines, "stock = stock + ?", transaction);
    return lines;
  }

  /** Releases reservations past their expiry; returns those released. */
  async releaseExpired(limit = 100): Promise<Reservation[]> {
    const due = (await StockReservation.findAll({
      attributes: ["orderId"],
      where: { status: "active", expiresAt: { [Op.lt]: this.now() } },
      group: ["orderId"],
      limit,
      raw: true,
    })) as unknown as { orderId: string }[];
    const released: Reservation[] = [];
    for (const { orderId } of due) {
      const result = await this.release(orderId).catch(() => undefined);
      if (result?.status === "released") released.push(result);
    }
    return released;
  }

  /** Sets the stock of a product; it may not go below what live reservations hold. */
  async setStock(productId: number, stock: number): Promise<void> {
    const [changed] = await Product.update({ stock: units(stock) }, { where: { id: productId, reserved: { [Op.lte]: stock } } });
    if (changed > 0) return;
    const product = await Product.findByPk(productId, { attributes: ["reserved"], raw: true });
    if (!product) throw notFound("product", { id: productId });
    throw new DomainError(409, "STOCK_BELOW_RESERVED", `${product.reserved} units are reserved: stock cannot go below that`, {
      reserved: product.reserved,
    });
  }

  /** Goods arrived: adds units to the stock (a relative change, so it never races a sale). */
  async receive(productId: number, quantity: number): Promise<void> {
    const [changed] = await Product.update({ stock: literal(`stock + ${units(quantity)}`) } as any, { where: { id: productId } });
    if (changed === 0) throw notFound("product", { id: productId });
  }

  private async settle(orderId: string, to: Settled, outer?: Transaction): Promise<Reservation> {
    // Inside the caller's transaction when given (an event consumer's), else in one of its own.
    const run = <T>(work: (t: Transaction) => Promise<T>) => (outer ? work(outer) : inTransaction(this.sequelize, work));
    return run(async (transaction) => {
      const rows = await this.rowsOf(orderId, transaction);
      if (rows.length === 0) {
        if (to === "released") return { orderId, status: "released", expiresAt: null, lines: [] };
        throw notFound("reservation", { orderId });
      }
      const current = toReservation(orderId, rows);
      if (current.status === to) return current;
      if (current.status !== "active") {
        throw new DomainError(409, `RESERVATION_${current.status.toUpperCase()}`, `The reservation is already ${current.status}`, { orderId });
      }
      await this.moveRows(orderId, "active", to, rows.length, transaction);
      await this.moved(transaction, to === "committed" ? "stock.updated" : "stock.released", orderId, current.lines);
      await this.moveCounters(current.lines, lowered(SETTLED_COUNTERS[to], "?"), transaction);
      return { ...current, status: to };
    });
  }

  /**
   * Moves all of an order's reservation rows from one status to the next in one conditional update.
   * Fewer than expected moved: another transaction settled them since we read; start again from its result.
   */
  private async moveRows(orderId: string, from: string, to: string, expected: number, transaction: Transaction): Promise<void> {
    const moved = await changedRows(
      this.sequelize,
      "UPDATE stock_reservations SET status = ?, updated_at = ? WHERE order_id = ? AND status = ?",
      [to, this.now(), orderId, from],
      transaction,
    );
    if (moved !== expected) throw new ConcurrentChangeError();
  }

  /**
   * The product counters, last in their transaction and in product order, so the hot product rows are
   * held for one round trip before COMMIT. Settling takes the order's reservation rows, then product
   * rows in id order; a reservation takes product rows in id order, then inserts rows of an order no
   * other transaction touches yet: no two of them wait for each other in a cycle.
   * `assignments` has one `?` per assignment, each given the line's quantity.
   */
  private async moveCounters(lines: StockLine[], assignments: string, transaction: Transaction): Promise<void> {
    const placeholders = assignments.split("?").length - 1;
    for (const line of lines) {
      const q = units(line.quantity);
      await changedRows(this.sequelize, `UPDATE products SET ${assignments}, updated_at = ? WHERE id = ?`, [...Array(placeholders).fill(q), this.now(), line.productId], transaction);
    }
  }

  private rowsOf(orderId: string, transaction?: Transaction) {
    return selectRows(StockReservation, "order_id = ?", [orderId], transaction);
  }

  /** The lines that cannot be had, read outside the failed transaction. */
  private async shortageError(lines: StockLine[]): Promise<DomainError> {
    const all = await Promise.all(lines.map((line) => this.shortageOf(line)));
    const shortages = all.filter((s) => s.reason !== "insufficient_stock" || s.available < s.requested);
    // Units freed since the statement failed: the lines as they stand are all there is to tell.
    return insufficientStock(shortages.length ? shortages : all);
  }

  private async shortageOf(line: StockLine, transaction?: Transaction): Promise<Shortage> {
    const product = await Product.findByPk(line.productId, { attributes: ["stock", "reserved", "isActive"], transaction, raw: true });
    if (!product) return { productId: line.productId, requested: line.quantity, available: 0, reason: "not_found" };
    const available = Math.max(0, product.stock - product.reserved);
    if (!product.isActive) return { productId: line.productId, requested: line.quantity, available, reason: "inactive" };
    return { productId: line.productId, requested: line.quantity, available, reason: "insufficient_stock" };
  }
}
