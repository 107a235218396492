/**
 * The bounded contexts this codebase can run. A node loads only those named in SERVICES; each is
 * imported lazily so a node pays only for the services it runs.
 */
import type { ServiceSchema } from "moleculer";
import type { ServiceName } from "../lib/config";

/** Any service's schema, whatever its settings, methods and `this` (typed in the service itself). */
type Loader = () => Promise<{ default: ServiceSchema<any, any, any, any> }>;

export const serviceLoaders: Record<ServiceName, Loader> = {
  api: () => import("./api/api.service"),
  users: () => import("./users/users.service"),
  products: () => import("./products/products.service"),
  baskets: () => import("./baskets/baskets.service"),
  orders: () => import("./orders/orders.service"),
  payments: () => import("./payments/payments.service"),
  notifications: () => import("./notifications/notifications.service"),
};
