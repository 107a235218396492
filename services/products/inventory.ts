/**
 * Stock on the database: reservations taken, committed and released with conditional updates
 * inside transactions, so concurrent checkouts on any number of nodes can never oversell.
 *
 * Invariant (also a CHECK constraint on PostgreSQL and MariaDB): 0 <= reserved <= stock.
 * A reservation row moves active -> committed | released exactly once; every move is a
 * conditional update on the row's status, and the product counters move in the same transaction.
 */
import { Op, literal, UniqueConstraintError, type Sequelize, type Transaction } from "sequelize";
import { ConcurrentChangeError, inTransaction } from "../../lib/sql";
import { DomainError, notFound } from "../../lib/errors";
import { Product, StockReservation } from "./product.model";
import { normalizeLines, toReservation, type Reservation, type Shortage, type StockLine } from "./stock";

/** A whole number for SQL literals; parameters are validated before they get here. */
const units = (n: number): number => {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a quantity: ${n}`);
  return n;
};

/** Told of every stock movement inside its transaction (the products service writes its outbox there). */
export type StockMoved = (transaction: Transaction, type: "stock.reserved" | "stock.released" | "stock.updated", orderId: string, lines: StockLine[]) => Promise<void>;

export class Inventory {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly reservationTtlMs: number,
    private readonly now: () => Date = () => new Date(),
    private readonly moved: StockMoved = async () => undefined,
  ) {}

  /** Reserves every line or none. Idempotent per order: a repeat returns the first reservation. */
  async reserve(orderId: string, lines: StockLine[]): Promise<Reservation> {
    const wanted = normalizeLines(lines);
    try {
      return await inTransaction(this.sequelize, async (transaction) => {
        const existing = await this.rowsOf(orderId, transaction);
        if (existing.length) return toReservation(orderId, existing);

        const shortages: Shortage[] = [];
        for (const line of wanted) {
          const q = units(line.quantity);
          const [taken] = await Product.update({ reserved: literal(`reserved + ${q}`) } as any, {
            where: { id: line.productId, isActive: true, [Op.and]: [literal(`stock - reserved >= ${q}`)] },
            transaction,
          });
          if (taken === 0) shortages.push(await this.shortageOf(line, transaction));
        }
        if (shortages.length) {
          throw new DomainError(409, "INSUFFICIENT_STOCK", "Not enough stock for some lines", { shortages });
        }
        const expiresAt = new Date(this.now().getTime() + this.reservationTtlMs);
        await StockReservation.bulkCreate(
          wanted.map((l) => ({ orderId, productId: l.productId, quantity: l.quantity, status: "active" as const, expiresAt })),
          { transaction },
        );
        await this.moved(transaction, "stock.reserved", orderId, wanted);
        return { orderId, status: "active", expiresAt: expiresAt.toISOString(), lines: wanted };
      });
    } catch (err) {
      // A concurrent call for the same order inserted first (unique order+product): its reservation stands.
      if (err instanceof UniqueConstraintError) return toReservation(orderId, await this.rowsOf(orderId));
      throw err;
    }
  }

  /** Turns the reservation into a sale: stock and reserved both go down. Idempotent. */
  async commit(orderId: string, transaction?: Transaction): Promise<Reservation> {
    return this.settle(orderId, "committed", (q) => ({ stock: literal(`stock - ${q}`), reserved: literal(`reserved - ${q}`) }), transaction);
  }

  /** Gives the reserved units back. Idempotent; an order with no reservation is already released. */
  async release(orderId: string, transaction?: Transaction): Promise<Reservation> {
    return this.settle(orderId, "released", (q) => ({ reserved: literal(`reserved - ${q}`) }), transaction);
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
    await this.lockProducts(rows.map((r) => r.productId), transaction);
    for (const row of [...rows].sort((a, b) => a.productId - b.productId)) {
      const [moved] = await StockReservation.update({ status: "restocked" as any }, { where: { id: row.id, status: "committed" }, transaction });
      if (moved === 0) throw new ConcurrentChangeError();
      await Product.update({ stock: literal(`stock + ${units(row.quantity)}`) } as any, { where: { id: row.productId }, transaction });
    }
    const lines = rows.map((r) => ({ productId: r.productId, quantity: r.quantity }));
    if (lines.length) await this.moved(transaction, "stock.updated", orderId, lines);
    return lines;
  }

  /** Releases reservations past their expiry; returns the orders released. */
  async releaseExpired(limit = 100): Promise<string[]> {
    const due = (await StockReservation.findAll({
      attributes: ["orderId"],
      where: { status: "active", expiresAt: { [Op.lt]: this.now() } },
      group: ["orderId"],
      limit,
      raw: true,
    })) as unknown as { orderId: string }[];
    const released: string[] = [];
    for (const { orderId } of due) {
      const result = await this.release(orderId).catch(() => undefined);
      if (result?.status === "released") released.push(orderId);
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

  private async settle(
    orderId: string,
    to: "committed" | "released",
    counters: (q: number) => Record<string, unknown>,
    outer?: Transaction,
  ): Promise<Reservation> {
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
      await this.lockProducts(rows.map((r) => r.productId), transaction);
      for (const row of [...rows].sort((a, b) => a.productId - b.productId)) {
        const [moved] = await StockReservation.update({ status: to }, { where: { id: row.id, status: "active" }, transaction });
        // Another transaction settled it between our read and this update: start again from its result.
        if (moved === 0) throw new ConcurrentChangeError();
        await Product.update(counters(units(row.quantity)) as any, { where: { id: row.productId }, transaction });
      }
      await this.moved(transaction, to === "committed" ? "stock.updated" : "stock.released", orderId, current.lines);
      return { ...current, status: to };
    });
  }

  /**
   * Every transaction here takes its product rows first, in id order (reserve does so with its
   * conditional updates), then reservation rows: one lock order, so no two of them deadlock.
   */
  private async lockProducts(productIds: number[], transaction: Transaction): Promise<void> {
    if (productIds.length === 0) return;
    await Product.findAll({ attributes: ["id"], where: { id: productIds }, order: [["id", "ASC"]], lock: true, transaction, raw: true });
  }

  private rowsOf(orderId: string, transaction?: Transaction) {
    return StockReservation.findAll({ where: { orderId }, transaction, raw: true });
  }

  private async shortageOf(line: StockLine, transaction: Transaction): Promise<Shortage> {
    const product = await Product.findByPk(line.productId, { attributes: ["stock", "reserved", "isActive"], transaction, raw: true });
    if (!product) return { productId: line.productId, requested: line.quantity, available: 0, reason: "not_found" };
    const available = Math.max(0, product.stock - product.reserved);
    if (!product.isActive) return { productId: line.productId, requested: line.quantity, available, reason: "inactive" };
    return { productId: line.productId, requested: line.quantity, available, reason: "insufficient_stock" };
  }
}
