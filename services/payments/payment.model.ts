/** Sequelize models of the payments context: payments, their refunds, saved payment methods. */
import { DataTypes, Model, type Sequelize, type InferAttributes, type InferCreationAttributes, type CreationOptional } from "sequelize";
import type { PaymentStatus } from "./payment-state";

export class Payment extends Model<InferAttributes<Payment>, InferCreationAttributes<Payment>> {
  declare id: string;
  declare orderId: string;
  declare userId: string;
  /** Minor units, copied from the order (never from the client). */
  declare amount: number;
  declare currency: string;
  declare status: PaymentStatus;
  declare provider: string;
  declare providerRef: CreationOptional<string | null>;
  declare paymentMethod: CreationOptional<string | null>;
  declare failureReason: CreationOptional<string | null>;
  declare nextAction: CreationOptional<string | null>;
  declare refundedAmount: CreationOptional<number>;
  declare idempotencyKey: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export type RefundStatus = "pending" | "succeeded" | "failed";

/** One refund of the ledger: written (pending) before the provider is asked, with its id as the provider's idempotency key. */
export class Refund extends Model<InferAttributes<Refund>, InferCreationAttributes<Refund>> {
  declare id: CreationOptional<number>;
  declare paymentId: string;
  declare amount: number;
  declare reason: string;
  declare status: RefundStatus;
  /** Who asked, once: an admin's Idempotency-Key, `order:<id>` for an automatic refund, `stripe:<id>` for one made in Stripe. */
  declare requestKey: string;
  declare providerRef: string | null;
  declare createdAt: CreationOptional<Date>;
}

/** A refund row as read with `raw: true`. */
export type RefundRecord = InferAttributes<Refund>;

export class PaymentMethod extends Model<InferAttributes<PaymentMethod>, InferCreationAttributes<PaymentMethod>> {
  declare id: string;
  declare userId: string;
  /** The provider's token (pm_...): the card number never reaches us. */
  declare providerToken: string;
  declare brand: string;
  declare last4: string;
  declare expMonth: number;
  declare expYear: number;
  declare isDefault: CreationOptional<boolean>;
  declare createdAt: CreationOptional<Date>;
}

export function definePaymentModels(sequelize: Sequelize) {
  Payment.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      orderId: { type: DataTypes.UUID, allowNull: false, unique: true },
      userId: { type: DataTypes.STRING(64), allowNull: false },
      amount: { type: DataTypes.INTEGER, allowNull: false },
      currency: { type: DataTypes.STRING(3), allowNull: false },
      status: { type: DataTypes.STRING(32), allowNull: false },
      provider: { type: DataTypes.STRING(16), allowNull: false },
      providerRef: { type: DataTypes.STRING(255), allowNull: true },
      paymentMethod: { type: DataTypes.STRING(255), allowNull: true },
      failureReason: { type: DataTypes.STRING(255), allowNull: true },
      nextAction: { type: DataTypes.STRING(64), allowNull: true },
      refundedAmount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      idempotencyKey: { type: DataTypes.STRING(128), allowNull: false },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, tableName: "payments", modelName: "payment", underscored: true },
  );
  Refund.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      paymentId: { type: DataTypes.UUID, allowNull: false },
      amount: { type: DataTypes.INTEGER, allowNull: false },
      reason: { type: DataTypes.STRING(500), allowNull: false },
      status: { type: DataTypes.STRING(16), allowNull: false },
      requestKey: { type: DataTypes.STRING(200), allowNull: false },
      providerRef: { type: DataTypes.STRING(255), allowNull: true },
      createdAt: DataTypes.DATE,
    },
    { sequelize, tableName: "refunds", modelName: "refund", underscored: true, updatedAt: false },
  );
  PaymentMethod.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.STRING(64), allowNull: false },
      providerToken: { type: DataTypes.STRING(255), allowNull: false },
      brand: { type: DataTypes.STRING(32), allowNull: false },
      last4: { type: DataTypes.STRING(4), allowNull: false },
      expMonth: { type: DataTypes.INTEGER, allowNull: false },
      expYear: { type: DataTypes.INTEGER, allowNull: false },
      isDefault: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      createdAt: DataTypes.DATE,
    },
    { sequelize, tableName: "payment_methods", modelName: "paymentMethod", underscored: true, updatedAt: false },
  );
  return { main: Payment, refunds: Refund, methods: PaymentMethod };
}
