/**
 * A typed client of the shop's REST API: openapi-fetch over the types openapi-typescript generated
 * from the OpenAPI document (lib/http/api-types.ts, `npm run openapi`). Paths, parameters, bodies
 * and answers are checked by the compiler against the document the server serves.
 *
 *   const shop = shopClient("http://localhost:3000", { token });
 *   const { data, error, response } = await shop.GET("/api/v1/products/{id}", { params: { path: { id: 42 } } });
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./api-types";

export type { components, paths };
export type ShopClient = Client<paths>;
export type Schemas = components["schemas"];

export interface ShopClientOptions {
  /** A bearer token sent with every request. */
  token?: string;
  /** Runs on every response (the tests check each against the document). */
  onResponse?: (request: Request, response: Response) => void | Promise<void>;
}

export function shopClient(baseUrl: string, options: ShopClientOptions = {}): ShopClient {
  const client = createClient<paths>({ baseUrl });
  const middleware: Middleware = {
    onRequest({ request }) {
      if (options.token) request.headers.set("Authorization", `Bearer ${options.token}`);
      return request;
    },
    async onResponse({ request, response }) {
      await options.onResponse?.(request, response);
      return response;
    },
  };
  client.use(middleware);
  return client;
}
