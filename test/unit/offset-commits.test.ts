/**
 * A consumer's applied offsets are committed every interval, one commit at a time, each naming the
 * offset after the last applied message of every partition; a refused commit is reported, not thrown.
 */
import { PeriodicOffsetCommits } from "../../lib/events/offset-commits";

type Offsets = { topic: string; partition: number; offset: string }[];

function fakeConsumer(answer: (offsets: Offsets) => Promise<void> = async () => undefined) {
  const commits: Offsets[] = [];
  return { commits, commitOffsets: (offsets: Offsets) => (commits.push(offsets), answer(offsets)) };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

it("commits once per interval, the offset after the last message applied on each partition", async () => {
  const consumer = fakeConsumer();
  const commits = new PeriodicOffsetCommits(consumer, 500, () => undefined);
  commits.applied("orders", 0, "41");
  commits.applied("orders", 0, "42");
  commits.applied("orders", 2, "9007199254740993"); // past Number's exact integers
  commits.applied("payments", 0, "7");
  await jest.advanceTimersByTimeAsync(499);
  expect(consumer.commits).toEqual([]);
  await jest.advanceTimersByTimeAsync(1);
  expect(consumer.commits).toEqual([
    [
      { topic: "orders", partition: 0, offset: "43" },
      { topic: "orders", partition: 2, offset: "9007199254740994" },
      { topic: "payments", partition: 0, offset: "8" },
    ],
  ]);
  // Nothing new: no commit.
  await jest.advanceTimersByTimeAsync(2_000);
  expect(consumer.commits).toHaveLength(1);
  commits.applied("orders", 0, "43");
  await jest.advanceTimersByTimeAsync(500);
  expect(consumer.commits[1]).toEqual([{ topic: "orders", partition: 0, offset: "44" }]);
});

it("flushes at once, after the commit in flight, and reports a refused commit without throwing", async () => {
  let release!: () => void;
  const order: string[] = [];
  const consumer = fakeConsumer((offsets) => {
    order.push(`start ${offsets[0].offset}`);
    if (offsets[0].offset === "2") return new Promise<void>((resolve) => (release = () => (order.push("end 2"), resolve())));
    return Promise.reject(new Error("REBALANCE_IN_PROGRESS"));
  });
  const errors: unknown[] = [];
  const commits = new PeriodicOffsetCommits(consumer, 500, (err) => errors.push(err));
  commits.applied("t", 0, "1");
  const first = commits.flush();
  commits.applied("t", 0, "5");
  const second = commits.flush();
  await jest.advanceTimersByTimeAsync(0);
  expect(order).toEqual(["start 2"]); // the second waits for the first
  release();
  await Promise.all([first, second]);
  expect(order).toEqual(["start 2", "end 2", "start 6"]);
  expect(errors).toEqual([new Error("REBALANCE_IN_PROGRESS")]);
});
