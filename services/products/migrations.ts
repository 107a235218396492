/** Schema of the products database, in order. Never edit an applied migration: add one. */
import { DataTypes, Op, col } from "sequelize";
import type { Migration } from "../../lib/sql";

const timestamps = {
  created_at: { type: DataTypes.DATE, allowNull: false },
  updated_at: { type: DataTypes.DATE, allowNull: false },
};

export const productMigrations: Migration[] = [
  {
    name: "001-create-products",
    async up(qi) {
      await qi.createTable("products", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        sku: { type: DataTypes.STRING(64), allowNull: false, unique: true },
        name: { type: DataTypes.STRING(200), allowNull: false },
        description: { type: DataTypes.TEXT, allowNull: true },
        price: { type: DataTypes.INTEGER, allowNull: false },
        currency: { type: DataTypes.STRING(3), allowNull: false, defaultValue: "USD" },
        stock: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
        reserved: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
        category: { type: DataTypes.STRING(100), allowNull: false },
        image_url: { type: DataTypes.STRING(500), allowNull: true },
        is_active: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
        ...timestamps,
      });
      await qi.addIndex("products", ["category", "id"], { name: "products_category_idx" });
      await qi.addIndex("products", ["price", "id"], { name: "products_price_idx" });
      await qi.addIndex("products", ["stock"], { name: "products_stock_idx" });
      // The database itself refuses negative or over-reserved stock. SQLite cannot add a
      // constraint to an existing table; there the conditional updates alone uphold it.
      if (qi.sequelize.getDialect() !== "sqlite") {
        await qi.addConstraint("products", {
          type: "check",
          fields: ["stock"],
          name: "products_stock_check",
          where: { stock: { [Op.gte]: 0 }, reserved: { [Op.gte]: 0, [Op.lte]: col("stock") } },
        });
      }
    },
    async down(qi) {
      await qi.dropTable("products");
    },
  },
  {
    name: "002-create-stock-reservations",
    async up(qi) {
      await qi.createTable("stock_reservations", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        order_id: { type: DataTypes.STRING(64), allowNull: false },
        product_id: {
          type: DataTypes.INTEGER,
          allowNull: false,
          references: { model: "products", key: "id" },
          onDelete: "RESTRICT",
        },
        quantity: { type: DataTypes.INTEGER, allowNull: false },
        status: { type: DataTypes.STRING(16), allowNull: false },
        expires_at: { type: DataTypes.DATE, allowNull: false },
        ...timestamps,
      });
      await qi.addIndex("stock_reservations", ["order_id", "product_id"], { unique: true, name: "stock_reservations_order_product_uq" });
      await qi.addIndex("stock_reservations", ["status", "expires_at"], { name: "stock_reservations_status_expiry_idx" });
      await qi.addIndex("stock_reservations", ["product_id", "status"], { name: "stock_reservations_product_status_idx" });
    },
    async down(qi) {
      await qi.dropTable("stock_reservations");
    },
  },
];
