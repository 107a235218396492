/**
 * On SQLite every write of a database goes through one connection, one at a time: transactions and
 * the writes outside them (lib/sql.ts). A seeded random mix of both, with reads beside them, must
 * lose nothing, mix nothing into a transaction that rolls back, and never wait for itself.
 */
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { freshDatabase, type TestDatabase } from "../support/databases";
import { random as seeded } from "../support/shop-model";
import { createSequelize, inTransaction, openDatabase } from "../../lib/sql";


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SQLite writes through one connection", () => {
  let db: TestDatabase;
  let sequelize: Sequelize;

  beforeAll(async () => {
    db = await freshDatabase("sqlite");
    sequelize = createSequelize(db.url);
    await openDatabase(sequelize);
    await sequelize.query("CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL, kind TEXT NOT NULL)");
  });

  afterAll(async () => {
    await sequelize.close();
    await db.drop();
  });

  const count = async (where: string, replacements: unknown[]) =>
    Number(((await sequelize.query(`SELECT count(*) AS n FROM entries WHERE ${where}`, { replacements, type: QueryTypes.SELECT })) as { n: number }[])[0].n);

  it.each([1, 2, 3])("keeps every committed write and none of a rolled-back one, under a random mix (seed %i)", async (seed) => {
    const random = seeded(seed);
    const tag = `run-${seed}`;
    const expected = { plain: 0, committed: 0 };
    const work = Array.from({ length: 120 }, async (_, i) => {
      const roll = random();
      // Spread over ~60 ms, so that plain writes arrive while transactions are open.
      await sleep(random() * 60);
      if (roll < 0.35) {
        expected.plain++;
        return sequelize.query("INSERT INTO entries (tag, kind) VALUES (?, 'plain')", { replacements: [tag] });
      }
      if (roll < 0.7) {
        const fails = random() < 0.3;
        if (!fails) expected.committed += 2;
        // Through inTransaction, or begun directly: both wait their turn for the writer.
        const begin = random() < 0.5 ? (work: (t: Transaction) => Promise<void>) => inTransaction(sequelize, work) : (work: (t: Transaction) => Promise<void>) => sequelize.transaction(work);
        return begin(async (transaction) => {
          await sequelize.query("INSERT INTO entries (tag, kind) VALUES (?, ?)", { replacements: [tag, fails ? "rolled back" : "committed"], transaction });
          // Something else happens meanwhile: other writes must not slip into this transaction.
          await sleep(random() * 3);
          await sequelize.query("INSERT INTO entries (tag, kind) VALUES (?, ?)", { replacements: [tag, fails ? "rolled back" : "committed"], transaction });
          if (fails) throw new Error(`rolled back ${i}`);
        }).catch((err: Error) => {
          if (!err.message.startsWith("rolled back")) throw err;
        });
      }
      return count("tag = ?", [tag]);
    });
    await Promise.all(work);
    expect(await count("tag = ? AND kind = 'plain'", [tag])).toBe(expected.plain);
    expect(await count("tag = ? AND kind = 'committed'", [tag])).toBe(expected.committed);
    expect(await count("tag = ? AND kind = 'rolled back'", [tag])).toBe(0);
  });

  it("lets a transaction's callback read outside its transaction (it does not wait for itself)", async () => {
    const done = await inTransaction(sequelize, async (transaction) => {
      await sequelize.query("INSERT INTO entries (tag, kind) VALUES ('self', 'committed')", { transaction });
      // A read outside the transaction sees committed data only (the default connection, beside the writer).
      const outside = await count("tag = 'self'", []);
      return outside;
    });
    expect(done).toBe(0);
    expect(await count("tag = 'self'", [])).toBe(1);
  });
});
