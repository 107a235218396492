/**
 * runStatement sends hand-written statements to the driver directly (PostgreSQL, MariaDB) or through
 * Sequelize (SQLite). The same statement must mean the same on every dialect: parameters in order,
 * values read back as written (dates, booleans, text with quotes and question marks), rows changed
 * counted alike, Sequelize's error classes for constraint violations, and a transaction's statements
 * committed or rolled back with it. selectRows and updateRows read and write a model's rows as
 * `findAll({ raw: true })` and `Model.update` do.
 */
import { DataTypes, Model, UniqueConstraintError, type Sequelize } from "sequelize";
import { migratedDatabase } from "../support/databases";
import { inTransaction } from "../../lib/sql";
import { numberedPlaceholders, runStatement, selectRows, updateRows } from "../../lib/sql-statements";

/** Attribute names that are not their columns', and timestamps. */
class Gadget extends Model {
  declare id: number;
  declare displayName: string;
  declare isActive: boolean;
  declare updatedAt: Date;
}

describe("numberedPlaceholders", () => {
  it("numbers the ? parameters in order and leaves quoted text alone", () => {
    expect(numberedPlaceholders("UPDATE t SET a = ?, b = 'why?' WHERE \"c?\" = ? AND d = ?")).toBe("UPDATE t SET a = $1, b = 'why?' WHERE \"c?\" = $2 AND d = $3");
    expect(numberedPlaceholders("SELECT 'it''s ?' AS x, ?")).toBe("SELECT 'it''s ?' AS x, $1");
  });
});

describe.each(["postgres", "mariadb", "sqlite"] as const)("runStatement on %s", (kind) => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let sequelize: Sequelize;

  beforeAll(async () => {
    db = await migratedDatabase(kind, [
      {
        name: "s001-things",
        up: (qi) =>
          qi.createTable("things", {
            id: { type: DataTypes.INTEGER, primaryKey: true },
            name: { type: DataTypes.STRING(100), allowNull: false, unique: true },
            active: { type: DataTypes.BOOLEAN, allowNull: false },
            at: { type: DataTypes.DATE, allowNull: false },
          }),
        down: (qi) => qi.dropTable("things"),
      },
      {
        name: "s002-gadgets",
        up: (qi) =>
          qi.createTable("gadgets", {
            id: { type: DataTypes.INTEGER, primaryKey: true },
            display_name: { type: DataTypes.STRING(100), allowNull: false },
            is_active: { type: DataTypes.BOOLEAN, allowNull: false },
            created_at: { type: DataTypes.DATE(3), allowNull: false },
            updated_at: { type: DataTypes.DATE(3), allowNull: false },
          }),
        down: (qi) => qi.dropTable("gadgets"),
      },
    ], "statements_migrations");
    sequelize = db.sequelize;
    Gadget.init(
      { id: { type: DataTypes.INTEGER, primaryKey: true }, displayName: DataTypes.STRING(100), isActive: DataTypes.BOOLEAN },
      { sequelize, tableName: "gadgets", underscored: true },
    );
  });

  afterAll(() => db?.drop());

  // Whole seconds: DataTypes.DATE is DATETIME on MariaDB, without fractions.
  const at = new Date("2026-11-22T10:20:30Z");
  const insert = (id: number, name: string, transaction?: Parameters<typeof runStatement>[3]) =>
    runStatement(sequelize, "INSERT INTO things (id, name, active, at) VALUES (?, ?, ?, ?)", [id, name, true, at], transaction);

  it("inserts, reads back what it wrote, and counts the rows it changed", async () => {
    expect((await insert(1, "a 'quoted' name?")).changed).toBe(1);
    expect((await insert(2, "second")).changed).toBe(1);
    const { rows } = await runStatement<{ id: number; name: string; at: unknown }>(sequelize, "SELECT id, name, at FROM things WHERE id IN (?, ?) ORDER BY id", [1, 2]);
    expect(rows.map((r) => [Number(r.id), r.name])).toEqual([[1, "a 'quoted' name?"], [2, "second"]]);
    expect(new Date(rows[0].at as string).toISOString()).toBe(at.toISOString());
    // A row that already has the value still counts as matched but not changed on MariaDB (foundRows off): set a new one.
    expect((await runStatement(sequelize, "UPDATE things SET active = ? WHERE id >= ?", [false, 1])).changed).toBe(2);
    expect((await runStatement(sequelize, "UPDATE things SET active = ? WHERE id = ?", [true, 99])).changed).toBe(0);
    expect((await runStatement(sequelize, "DELETE FROM things WHERE id = ?", [2])).changed).toBe(1);
  });

  it("throws Sequelize's UniqueConstraintError for a duplicate, and the statement changes nothing", async () => {
    await expect(insert(3, "a 'quoted' name?")).rejects.toBeInstanceOf(UniqueConstraintError);
    expect((await runStatement(sequelize, "SELECT id FROM things WHERE id = ?", [3])).rows).toHaveLength(0);
  });

  if (kind === "sqlite") {
    it("refuses what it cannot queue for SQLite's writer by its first word (a data-modifying WITH)", async () => {
      await expect(runStatement(sequelize, "WITH x AS (SELECT 1) DELETE FROM things WHERE id = ?", [1])).rejects.toThrow(/only SELECT, INSERT, UPDATE and DELETE/);
    });
  }

  it("runs inside a transaction: rolled back with it, committed with it", async () => {
    await expect(
      inTransaction(sequelize, async (t) => {
        await insert(10, "ten", t);
        expect((await runStatement(sequelize, "SELECT id FROM things WHERE id = ?", [10], t)).rows).toHaveLength(1);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect((await runStatement(sequelize, "SELECT id FROM things WHERE id = ?", [10])).rows).toHaveLength(0);
    await inTransaction(sequelize, (t) => insert(11, "eleven", t));
    expect((await runStatement(sequelize, "SELECT name FROM things WHERE id = ?", [11])).rows).toEqual([{ name: "eleven" }]);
  });

  it("selectRows reads a model's rows as findAll({ raw: true }) does; updateRows writes as Model.update does", async () => {
    await Gadget.bulkCreate([1, 2, 3].map((id) => ({ id, displayName: `gadget ${id}`, isActive: true })));
    const found = await Gadget.findAll({ where: { id: [3, 1] }, order: [["id", "ASC"]], raw: true });
    expect(await selectRows(Gadget, "id IN (?, ?) ORDER BY id", [3, 1])).toEqual(found);
    expect(found.map((g) => g.displayName)).toEqual(["gadget 1", "gadget 3"]);

    const before = await selectRows(Gadget, "id = ?", [1]);
    const changes = { displayName: "renamed 'it?'", isActive: false };
    expect(await updateRows(Gadget, changes, "id = ? AND is_active = ?", [1, true])).toBe(1);
    expect(await updateRows(Gadget, changes, "id = ? AND is_active = ?", [1, true])).toBe(0);
    const [byModel] = await Gadget.update(changes, { where: { id: 2, isActive: true } });
    expect(byModel).toBe(1);
    const [mine, theirs] = await selectRows(Gadget, "id IN (?, ?) ORDER BY id", [1, 2]);
    const { id: _1, createdAt: _2, updatedAt: mineAt, ...mineRest } = mine as Gadget & { createdAt: unknown };
    const { id: _3, createdAt: _4, updatedAt: theirsAt, ...theirsRest } = theirs as Gadget & { createdAt: unknown };
    expect(mineRest).toEqual(theirsRest);
    expect(mineRest).toMatchObject({ displayName: "renamed 'it?'" });
    expect(typeof mineAt).toBe(typeof theirsAt);
    expect(new Date(mineAt).getTime()).toBeGreaterThanOrEqual(new Date(before[0].updatedAt).getTime());
  });
});
