/** Schema of the payments database (MariaDB in docker-compose, PostgreSQL and SQLite too). */
import { DataTypes } from "sequelize";
import type { Migration } from "../../lib/sql";

export const paymentMigrations: Migration[] = [
  {
    name: "001-create-payments",
    async up(qi) {
      await qi.createTable("payments", {
        id: { type: DataTypes.UUID, primaryKey: true },
        order_id: { type: DataTypes.UUID, allowNull: false, unique: true }, // one payment per order
        user_id: { type: DataTypes.STRING(64), allowNull: false },
        amount: { type: DataTypes.INTEGER, allowNull: false },
        currency: { type: DataTypes.STRING(3), allowNull: false },
        status: { type: DataTypes.STRING(32), allowNull: false },
        provider: { type: DataTypes.STRING(16), allowNull: false },
        provider_ref: { type: DataTypes.STRING(255), allowNull: true },
        payment_method: { type: DataTypes.STRING(255), allowNull: true },
        failure_reason: { type: DataTypes.STRING(255), allowNull: true },
        next_action: { type: DataTypes.STRING(64), allowNull: true },
        refunded_amount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
        idempotency_key: { type: DataTypes.STRING(128), allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
        updated_at: { type: DataTypes.DATE, allowNull: false },
      });
      await qi.addIndex("payments", ["user_id", "idempotency_key"], { unique: true, name: "payments_idempotency_uq" });
      await qi.addIndex("payments", ["user_id", "created_at"], { name: "payments_user_idx" });
      await qi.addIndex("payments", ["provider_ref"], { name: "payments_provider_ref_idx" });
      await qi.createTable("refunds", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        payment_id: { type: DataTypes.UUID, allowNull: false, references: { model: "payments", key: "id" } },
        amount: { type: DataTypes.INTEGER, allowNull: false },
        reason: { type: DataTypes.STRING(500), allowNull: false },
        provider_ref: { type: DataTypes.STRING(255), allowNull: false, unique: true },
        created_at: { type: DataTypes.DATE, allowNull: false },
      });
      await qi.createTable("payment_methods", {
        id: { type: DataTypes.UUID, primaryKey: true },
        user_id: { type: DataTypes.STRING(64), allowNull: false },
        provider_token: { type: DataTypes.STRING(255), allowNull: false },
        brand: { type: DataTypes.STRING(32), allowNull: false },
        last4: { type: DataTypes.STRING(4), allowNull: false },
        exp_month: { type: DataTypes.INTEGER, allowNull: false },
        exp_year: { type: DataTypes.INTEGER, allowNull: false },
        is_default: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
      });
      await qi.addIndex("payment_methods", ["user_id"], { name: "payment_methods_user_idx" });
    },
    async down(qi) {
      await qi.dropTable("payment_methods");
      await qi.dropTable("refunds");
      await qi.dropTable("payments");
    },
  },
  {
    name: "002-refund-ledger",
    async up(qi) {
      // Refunds become a ledger: pending before the provider is asked, then succeeded or failed.
      // Earlier rows were all written after the provider succeeded.
      await qi.addColumn("refunds", "status", { type: DataTypes.STRING(16), allowNull: false, defaultValue: "succeeded" });
      await qi.addColumn("refunds", "request_key", { type: DataTypes.STRING(200), allowNull: true });
      await qi.sequelize.query("UPDATE refunds SET request_key = provider_ref");
      await qi.addIndex("refunds", ["request_key"], { unique: true, name: "refunds_request_key_uq" });
      await qi.addIndex("refunds", ["payment_id", "status"], { name: "refunds_payment_idx" });
      // A pending refund has no provider reference yet.
      await qi.changeColumn("refunds", "provider_ref", { type: DataTypes.STRING(255), allowNull: true });
    },
    async down(qi) {
      await qi.removeIndex("refunds", "refunds_payment_idx");
      await qi.removeIndex("refunds", "refunds_request_key_uq");
      await qi.removeColumn("refunds", "request_key");
      await qi.removeColumn("refunds", "status");
    },
  },
];
