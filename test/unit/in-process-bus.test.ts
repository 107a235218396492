/**
 * The embedded bus tells the outbox a message went out only once every consumer group has handled
 * it: a row is never marked sent while it lives only in memory.
 */
import { inProcessBus, type BusMessage } from "../../lib/events/bus";

const message = (n: number): BusMessage => ({ topic: "order-events", key: `o-${n}`, value: `{"n":${n}}` });

it("resolves a publish only after every subscribed group handled its messages", async () => {
  const handled: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const stopSlow = inProcessBus.subscribe("slow", ["order-events"], async (m) => {
    await gate;
    handled.push(`slow:${m.key}`);
  });
  const stopFast = inProcessBus.subscribe("fast", ["order-events"], async (m) => void handled.push(`fast:${m.key}`));
  let published = false;
  const publishing = inProcessBus.publish([message(1), message(2)]).then(() => (published = true));
  await new Promise((r) => setTimeout(r, 20));
  expect(published).toBe(false);
  expect(handled).toEqual(["fast:o-1", "fast:o-2"]);
  // The slow group's lag: the message it is handling is not counted, the one behind it is.
  expect(inProcessBus.lag("slow")).toEqual(new Map([["order-events", 1]]));
  expect(inProcessBus.lag("fast")).toEqual(new Map([["order-events", 0]]));
  release();
  await publishing;
  expect(handled).toEqual(["fast:o-1", "fast:o-2", "slow:o-1", "slow:o-2"]);
  expect(inProcessBus.lag("slow")).toEqual(new Map([["order-events", 0]]));
  stopSlow();
  stopFast();
});

it("carries a message's headers (its producer span's traceparent) to the handler", async () => {
  const seen: BusMessage[] = [];
  const stop = inProcessBus.subscribe("headers", ["order-events"], async (m) => void seen.push(m));
  await inProcessBus.publish([{ ...message(1), headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } }]);
  expect(seen[0].headers).toEqual({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  stop();
});

it("fails the publish when a group stops before handling, so the outbox keeps the row", async () => {
  const stop = inProcessBus.subscribe("stopping", ["order-events"], () => new Promise(() => undefined)); // never finishes
  const publishing = inProcessBus.publish([message(1), message(2)]);
  await new Promise((r) => setTimeout(r, 10));
  stop();
  await expect(publishing).rejects.toThrow(/consumer group stopping stopped/);
});
