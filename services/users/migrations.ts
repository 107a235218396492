/** Schema of the users database, in order. Never edit an applied migration: add one. */
import { DataTypes } from "sequelize";
import type { Migration } from "../../lib/sql";

const timestamps = {
  created_at: { type: DataTypes.DATE, allowNull: false },
  updated_at: { type: DataTypes.DATE, allowNull: false },
};

export const userMigrations: Migration[] = [
  {
    name: "001-create-users",
    async up(qi) {
      await qi.createTable("users", {
        id: { type: DataTypes.UUID, primaryKey: true },
        email: { type: DataTypes.STRING(254), allowNull: false, unique: true },
        password_hash: { type: DataTypes.STRING(200), allowNull: false },
        first_name: { type: DataTypes.STRING(100), allowNull: false },
        last_name: { type: DataTypes.STRING(100), allowNull: false },
        role: { type: DataTypes.STRING(16), allowNull: false, defaultValue: "user" },
        is_active: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
        ...timestamps,
        deleted_at: { type: DataTypes.DATE, allowNull: true },
      });
      await qi.addIndex("users", ["created_at", "id"], { name: "users_created_idx" });
    },
    async down(qi) {
      await qi.dropTable("users");
    },
  },
  {
    name: "002-create-refresh-tokens",
    async up(qi) {
      await qi.createTable("refresh_tokens", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        user_id: { type: DataTypes.UUID, allowNull: false, references: { model: "users", key: "id" }, onDelete: "CASCADE" },
        family_id: { type: DataTypes.UUID, allowNull: false },
        token_hash: { type: DataTypes.STRING(64), allowNull: false, unique: true },
        expires_at: { type: DataTypes.DATE, allowNull: false },
        used_at: { type: DataTypes.DATE, allowNull: true },
        revoked_at: { type: DataTypes.DATE, allowNull: true },
        ...timestamps,
      });
      await qi.addIndex("refresh_tokens", ["family_id"], { name: "refresh_tokens_family_idx" });
      await qi.addIndex("refresh_tokens", ["user_id"], { name: "refresh_tokens_user_idx" });
    },
    async down(qi) {
      await qi.dropTable("refresh_tokens");
    },
  },
  {
    // Access tokens minted at another version are refused by the gateway (password change, deactivation).
    name: "003-add-users-token-version",
    async up(qi) {
      await qi.addColumn("users", "token_version", { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
    },
    async down(qi) {
      await qi.removeColumn("users", "token_version");
    },
  },
];
