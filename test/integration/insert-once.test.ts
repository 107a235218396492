/**
 * insertOnce applies each event once, however often and however concurrently it is delivered: on
 * PostgreSQL as one statement (the event id and the row together), elsewhere through processOnce.
 * A seeded random history of deliveries, with duplicates racing each other, is checked against
 * the invariant: one row per distinct event id, and exactly one "applied" answer for each.
 */
import { DataTypes, QueryTypes, type Sequelize } from "sequelize";
import { migratedDatabase } from "../support/databases";
import { random as seeded } from "../support/shop-model";
import { insertOnce, integrationEventMigrations } from "../../lib/events/stores";


describe.each(["postgres", "mariadb", "sqlite"] as const)("insertOnce on %s", (kind) => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let sequelize: Sequelize;

  beforeAll(async () => {
    db = await migratedDatabase(kind, [
      ...integrationEventMigrations,
      {
        name: "t001-effects",
        up: (qi) => qi.createTable("effects", {
          id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
          event_id: { type: DataTypes.STRING(64), allowNull: false },
          note: { type: DataTypes.STRING(100), allowNull: false },
          created_at: { type: DataTypes.DATE, allowNull: false },
        }),
        down: (qi) => qi.dropTable("effects"),
      },
    ], "events_migrations");
    sequelize = db.sequelize;
  });

  afterAll(() => db?.drop());

  it.each([1, 2, 3])("applies each of a random history of racing deliveries once (seed %i)", async (seed) => {
    const random = seeded(seed);
    const consumer = `c${seed}`;
    const ids = Array.from({ length: 40 }, (_, i) => `${consumer}-event-${i}`);
    // 160 deliveries of 40 events, in random order, 8 at a time: most events arrive two or more times at once.
    const deliveries = Array.from({ length: 160 }, () => ids[Math.floor(random() * ids.length)]);
    const answers: { id: string; outcome: "applied" | "duplicate" }[] = [];
    for (let i = 0; i < deliveries.length; i += 8) {
      await Promise.all(
        deliveries.slice(i, i + 8).map(async (id) => {
          const outcome = await insertOnce(sequelize, consumer, id, "effects", { event_id: id, note: `from ${id}`, created_at: new Date() });
          answers.push({ id, outcome });
        }),
      );
    }

    const delivered = [...new Set(deliveries)].sort();
    const rows = await sequelize.query<{ event_id: string }>("SELECT event_id FROM effects WHERE event_id LIKE ?", { replacements: [`${consumer}-%`], type: QueryTypes.SELECT });
    expect(rows.map((r) => r.event_id).sort()).toEqual(delivered);
    expect(answers.filter((a) => a.outcome === "applied").map((a) => a.id).sort()).toEqual(delivered);
    const recorded = await sequelize.query("SELECT event_id FROM processed_events WHERE consumer = ?", { replacements: [consumer], type: QueryTypes.SELECT });
    expect(recorded).toHaveLength(delivered.length);
  });
});
