/** Schema of the orders database, in order. Never edit an applied migration: add one. */
import { DataTypes } from "sequelize";
import type { Migration } from "../../lib/sql";

export const orderMigrations: Migration[] = [
  {
    name: "001-create-orders",
    async up(qi) {
      await qi.createTable("orders", {
        id: { type: DataTypes.UUID, primaryKey: true },
        user_id: { type: DataTypes.STRING(64), allowNull: false },
        status: { type: DataTypes.STRING(32), allowNull: false },
        currency: { type: DataTypes.STRING(3), allowNull: false },
        total: { type: DataTypes.INTEGER, allowNull: false },
        item_count: { type: DataTypes.INTEGER, allowNull: false },
        refunded_amount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
        idempotency_key: { type: DataTypes.STRING(128), allowNull: false },
        request_hash: { type: DataTypes.STRING(64), allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
        updated_at: { type: DataTypes.DATE, allowNull: false },
      });
      // One order per client key and user: replays and concurrent duplicates find the first.
      await qi.addIndex("orders", ["user_id", "idempotency_key"], { unique: true, name: "orders_idempotency_uq" });
      await qi.addIndex("orders", ["user_id", "created_at"], { name: "orders_user_idx" });
      await qi.addIndex("orders", ["status", "created_at"], { name: "orders_status_idx" });
      await qi.createTable("order_lines", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        order_id: { type: DataTypes.UUID, allowNull: false, references: { model: "orders", key: "id" }, onDelete: "CASCADE" },
        product_id: { type: DataTypes.INTEGER, allowNull: false },
        name: { type: DataTypes.STRING(200), allowNull: false },
        unit_price: { type: DataTypes.INTEGER, allowNull: false },
        quantity: { type: DataTypes.INTEGER, allowNull: false },
        line_total: { type: DataTypes.INTEGER, allowNull: false },
      });
      await qi.addIndex("order_lines", ["order_id"], { name: "order_lines_order_idx" });
      await qi.createTable("order_history", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        order_id: { type: DataTypes.UUID, allowNull: false, references: { model: "orders", key: "id" }, onDelete: "CASCADE" },
        from_status: { type: DataTypes.STRING(32), allowNull: true },
        to_status: { type: DataTypes.STRING(32), allowNull: false },
        cause: { type: DataTypes.STRING(200), allowNull: false },
        at: { type: DataTypes.DATE, allowNull: false },
      });
      await qi.addIndex("order_history", ["order_id", "id"], { name: "order_history_order_idx" });
    },
    async down(qi) {
      await qi.dropTable("order_history");
      await qi.dropTable("order_lines");
      await qi.dropTable("orders");
    },
  },
  {
    name: "002-pay-by-and-one-awaiting-payment",
    async up(qi) {
      await qi.addColumn("orders", "pay_by", { type: DataTypes.DATE, allowNull: true });
      // Set while an order awaits payment, null otherwise; NULLs never collide in a unique index,
      // on PostgreSQL, MariaDB and SQLite alike, so each customer has at most one such order.
      await qi.addColumn("orders", "awaiting_payment_of", { type: DataTypes.STRING(64), allowNull: true });
      await qi.sequelize.query("UPDATE orders SET pay_by = created_at, awaiting_payment_of = NULL");
      await qi.addIndex("orders", ["awaiting_payment_of"], { unique: true, name: "orders_awaiting_payment_uq" });
      await qi.addIndex("orders", ["status", "pay_by"], { name: "orders_status_pay_by_idx" });
    },
    async down(qi) {
      await qi.removeIndex("orders", "orders_status_pay_by_idx");
      await qi.removeIndex("orders", "orders_awaiting_payment_uq");
      await qi.removeColumn("orders", "awaiting_payment_of");
      await qi.removeColumn("orders", "pay_by");
    },
  },
];
