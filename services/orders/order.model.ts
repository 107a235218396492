/** Sequelize models of the orders context: orders, their lines and every status change. */
import { DataTypes, Model, type Sequelize, type InferAttributes, type InferCreationAttributes, type CreationOptional } from "sequelize";
import type { OrderStatus } from "./order-state";

export class Order extends Model<InferAttributes<Order>, InferCreationAttributes<Order>> {
  declare id: string;
  declare userId: string;
  declare status: OrderStatus;
  declare currency: string;
  /** Minor units. */
  declare total: number;
  declare itemCount: number;
  declare refundedAmount: CreationOptional<number>;
  /** The charge must start before this; the stock stays reserved until then (plus the payment grace). */
  declare payBy: Date | null;
  /** The owner's id while the order awaits payment, else null: unique, so one such order per customer. */
  declare awaitingPaymentOf: string | null;
  declare idempotencyKey: string;
  declare requestHash: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class OrderLineRow extends Model<InferAttributes<OrderLineRow>, InferCreationAttributes<OrderLineRow>> {
  declare id: CreationOptional<number>;
  declare orderId: string;
  declare productId: number;
  declare name: string;
  declare unitPrice: number;
  declare quantity: number;
  declare lineTotal: number;
}

export class OrderHistory extends Model<InferAttributes<OrderHistory>, InferCreationAttributes<OrderHistory>> {
  declare id: CreationOptional<number>;
  declare orderId: string;
  declare fromStatus: OrderStatus | null;
  declare toStatus: OrderStatus;
  declare cause: string;
  declare at: Date;
}

export function defineOrderModels(sequelize: Sequelize) {
  Order.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.STRING(64), allowNull: false },
      status: { type: DataTypes.STRING(32), allowNull: false },
      currency: { type: DataTypes.STRING(3), allowNull: false },
      total: { type: DataTypes.INTEGER, allowNull: false },
      itemCount: { type: DataTypes.INTEGER, allowNull: false },
      refundedAmount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      payBy: { type: DataTypes.DATE, allowNull: true },
      awaitingPaymentOf: { type: DataTypes.STRING(64), allowNull: true },
      idempotencyKey: { type: DataTypes.STRING(128), allowNull: false },
      requestHash: { type: DataTypes.STRING(64), allowNull: false },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, tableName: "orders", modelName: "order", underscored: true },
  );
  OrderLineRow.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false },
      productId: { type: DataTypes.INTEGER, allowNull: false },
      name: { type: DataTypes.STRING(200), allowNull: false },
      unitPrice: { type: DataTypes.INTEGER, allowNull: false },
      quantity: { type: DataTypes.INTEGER, allowNull: false },
      lineTotal: { type: DataTypes.INTEGER, allowNull: false },
    },
    { sequelize, tableName: "order_lines", modelName: "orderLine", underscored: true, timestamps: false },
  );
  OrderHistory.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false },
      fromStatus: { type: DataTypes.STRING(32), allowNull: true },
      toStatus: { type: DataTypes.STRING(32), allowNull: false },
      cause: { type: DataTypes.STRING(200), allowNull: false },
      at: { type: DataTypes.DATE, allowNull: false },
    },
    { sequelize, tableName: "order_history", modelName: "orderHistory", underscored: true, timestamps: false },
  );
  return { main: Order, lines: OrderLineRow, history: OrderHistory };
}
