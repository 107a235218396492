/**
 * moleculer-db on the Sequelize adapter for a service that owns a SQL database.
 * The database comes from `<SERVICE>_DB_URL` (SQLite file under DATA_DIR when absent); the schema
 * comes from the service's migrations (umzug), never from `sync()`.
 */
import DbService from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type { ServiceSchema } from "moleculer";
import type { ModelStatic, Model, Sequelize } from "sequelize";
import { config, type DbServiceName } from "../lib/config";
import { createSequelize, migrate, openDatabase, type Migration } from "../lib/sql";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { traceSequelize } from "../lib/telemetry/sql-spans";

export interface SqlDbOptions<M extends { main: ModelStatic<Model> }> {
  service: DbServiceName;
  /** Defines the service's models on its Sequelize instance; `main` is the moleculer-db entity. */
  models(sequelize: Sequelize): M;
  migrations: Migration[];
}

/**
 * moleculer-db without its generic actions (find, list, get, create, ...): they take raw queries,
 * and an action of the same name in a service would silently inherit their parameters and cache.
 * Each service declares its own actions; moleculer-db brings the adapter and its methods.
 */
const { actions, ...DbServiceWithoutActions } = DbService as unknown as ServiceSchema;

export function SqlDbMixin<M extends { main: ModelStatic<Model> }>(opts: SqlDbOptions<M>): ServiceSchema<any> {
  const sequelize = createSequelize(config().db[opts.service]);
  // With tracing on, the statements a traced request or message runs are spans of their own.
  if (config().tracing) traceSequelize(sequelize, opts.service);
  const models = opts.models(sequelize);
  const check = `${opts.service}.db`;

  // `adapter` and `model` are moleculer-db's schema extensions, unknown to Moleculer's types.
  const schema: ServiceSchema<any> & { adapter: unknown; model: unknown } = {
    name: `${opts.service}-db`,
    mixins: [DbServiceWithoutActions as ServiceSchema],
    // A ready model instance: the adapter then skips its own sync().
    adapter: new SequelizeDbAdapter(sequelize as any),
    model: models.main,

    created() {
      this.sequelize = sequelize;
      this.models = models;
    },

    // Runs after moleculer-db's started() has connected.
    async started() {
      await openDatabase(sequelize);
      const applied = await migrate(sequelize, opts.migrations, `${opts.service}_migrations`);
      if (applied.length) this.logger.info(`Applied migrations: ${applied.join(", ")}`);
      registerHealthCheck(check, async () => {
        await sequelize.query("SELECT 1");
      });
    },

    stopped() {
      unregisterHealthCheck(check);
    },
  };
  return schema;
}
