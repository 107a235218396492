/**
 * What the shop told whom: every customer-facing integration event becomes one message, recorded
 * once per event id (a mail or push gateway would send it from here).
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { DataTypes, Model, type Sequelize, type InferAttributes, type InferCreationAttributes, type CreationOptional } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { KafkaBridgeMixin } from "../../mixins/kafka-bridge.mixin";
import type { Migration } from "../../lib/sql";
import type { Envelope } from "../../lib/events/envelope";
import type { EventHandlers, EventType, IntegrationEvent } from "../../lib/events/contracts";
import { insertOnce, integrationEventMigrations, SqlDeadLetters } from "../../lib/events/stores";
import type { ShopMeta } from "../../lib/http/access";
import { messageFor } from "./messages";
import { queryInt } from "../../lib/params";
import { arrayOf } from "../../lib/http/schemas";

class Notification extends Model<InferAttributes<Notification>, InferCreationAttributes<Notification>> {
  declare id: CreationOptional<number>;
  declare userId: string;
  declare eventId: string;
  declare eventType: string;
  declare channel: string;
  declare subject: string;
  declare body: string;
  declare createdAt: CreationOptional<Date>;
}

function defineModels(sequelize: Sequelize) {
  Notification.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      userId: { type: DataTypes.STRING(64), allowNull: false },
      eventId: { type: DataTypes.STRING(64), allowNull: false },
      eventType: { type: DataTypes.STRING(100), allowNull: false },
      channel: { type: DataTypes.STRING(16), allowNull: false },
      subject: { type: DataTypes.STRING(200), allowNull: false },
      body: { type: DataTypes.TEXT, allowNull: false },
      createdAt: DataTypes.DATE,
    },
    { sequelize, tableName: "notifications", modelName: "notification", underscored: true, updatedAt: false },
  );
  return { main: Notification };
}

const migrations: Migration[] = [
  {
    name: "001-create-notifications",
    async up(qi) {
      await qi.createTable("notifications", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        user_id: { type: DataTypes.STRING(64), allowNull: false },
        event_id: { type: DataTypes.STRING(64), allowNull: false },
        event_type: { type: DataTypes.STRING(100), allowNull: false },
        channel: { type: DataTypes.STRING(16), allowNull: false },
        subject: { type: DataTypes.STRING(200), allowNull: false },
        body: { type: DataTypes.TEXT, allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
      });
      await qi.addIndex("notifications", ["user_id", "id"], { name: "notifications_user_idx" });
    },
    async down(qi) {
      await qi.dropTable("notifications");
    },
  },
];

/**
 * The service's types, as Moleculer's TypeScript schemas take them (ServiceSchema<Settings, Methods,
 * Vars>): `this` in actions, methods, events and lifecycle handlers is the service with these, so a
 * misspelt method or a wrong argument is a compile error, not an undefined at run time. Moleculer
 * types `methods` loosely, so each service checks its block against its interface (`satisfies`).
 */
interface NotificationsSettings extends ServiceSettingSchema {
  /** Actions declare absolute REST paths (under /api/v1). */
  rest: string;
}
interface NotificationsMethods {
  /** Records the message an event means for its customer, once per event id. */
  record(event: Envelope): Promise<void>;
}
/** What the mixins and created() put on the service. */
interface NotificationsVars {
  /** SqlDbMixin's connection to the notifications database. */
  sequelize: Sequelize;
  /** Read by the Kafka bridge: where events that keep failing end. */
  deadLetters: SqlDeadLetters;
}
type NotificationsThis = Service<NotificationsSettings> & NotificationsMethods & NotificationsVars;

/** The events a customer hears about (messages.ts words each). */
const TOLD: EventType[] = ["order.created", "order.cancelled", "order.expired", "payment.completed", "payment.failed", "payment.refunded"];

const NotificationsService: ServiceSchema<NotificationsSettings, NotificationsMethods, NotificationsVars> = {
  name: "notifications",
  // Moleculer starts the last mixin first: the database (and its migrations) before the bridge.
  mixins: [
    KafkaBridgeMixin({
      handlers: Object.fromEntries(TOLD.map((type) => [type, function (this: NotificationsThis, event: IntegrationEvent) { return this.record(event); }])) as EventHandlers,
    }),
    SqlDbMixin({ service: "notifications", models: defineModels, migrations: [...migrations, ...integrationEventMigrations] }),
  ],

  settings: { rest: "/" },

  actions: {
    mine: {
      rest: "GET /notifications",
      auth: "user",
      summary: "What the shop told the caller, newest first",
      params: { limit: queryInt({ min: 1, max: 100, optional: true }) },
      responses: { 200: arrayOf("Notification") },
      async handler(this: NotificationsThis, ctx: Context<{ limit?: number }, ShopMeta>) {
        const rows = await Notification.findAll({ where: { userId: ctx.meta.user!.id }, order: [["id", "DESC"]], limit: ctx.params.limit ?? 20, raw: true });
        return rows.map(({ eventType, channel, subject, body, createdAt }) => ({ eventType, channel, subject, body, createdAt: new Date(createdAt).toISOString() }));
      },
    },
  },

  methods: {
    async record(this: NotificationsThis, event: Envelope): Promise<void> {
      const message = messageFor(event);
      if (!message) return;
      // One statement on PostgreSQL (the message and the event id together): this consumer hears of every order and payment.
      await insertOnce(this.sequelize, "notifications", event.id, "notifications", {
        user_id: message.userId, event_id: event.id, event_type: event.type, channel: "email", subject: message.subject, body: message.body, created_at: new Date(),
      });
    },
  } satisfies NotificationsMethods,

  created(this: NotificationsThis) {
    this.deadLetters = new SqlDeadLetters(this.sequelize);
  },
};

export default NotificationsService;
