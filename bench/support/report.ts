/** Figures next to their goals on the terminal, and the markdown summary the README's tables come from. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export interface Goal {
  text: string;
  met(value: number): boolean;
}

export const atLeast = (goal: number, unit = ""): Goal => ({ text: `≥ ${goal}${unit}`, met: (v) => v >= goal });
export const atMost = (goal: number, unit = ""): Goal => ({ text: `≤ ${goal}${unit}`, met: (v) => v <= goal });

/** "ok" or "MISS"; "n/a" when there is nothing to judge. */
export function verdict(value: number, goal: Goal): string {
  return Number.isFinite(value) ? (goal.met(value) ? "ok" : "MISS") : "n/a";
}

export const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "n/a");

/** One aligned terminal line: label, value, and the goal it is held to. */
export function figureLine(label: string, value: string, goal?: { goal: Goal; value: number }): string {
  const judged = goal ? `   goal ${goal.goal.text.padEnd(10)} ${verdict(goal.value, goal.goal)}` : "";
  return `  ${label.padEnd(52)}${value.padStart(14)}${judged}`;
}

/** A markdown table, filled as a scenario runs and printed at the end. */
export class Table {
  readonly rows: string[][] = [];
  constructor(
    readonly title: string,
    readonly headers: string[],
  ) {}

  add(...cells: string[]): this {
    this.rows.push(cells);
    return this;
  }

  markdown(): string {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [`**${this.title}**`, "", line(this.headers), line(this.headers.map(() => "---")), ...this.rows.map(line)].join("\n");
  }
}

/** A figure-and-goal table (checkout): figure, measured, goal, verdict. */
export class GoalTable extends Table {
  constructor(title: string) {
    super(title, ["figure", "measured", "goal", "met"]);
  }

  figure(name: string, measured: string, goal?: Goal, value = NaN): this {
    return this.add(name, measured, goal?.text ?? "", goal ? verdict(value, goal) : "");
  }
}

/** Where and when: the markdown summary's first line. */
export function machineLine(): string {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown CPU";
  const cores = execFileSync("nproc", { encoding: "utf8" }).trim();
  return `${new Date().toISOString().slice(0, 10)}, ${cores} cores (nproc), ${cpu}, Node ${process.version}`;
}

export function printSummary(tables: Table[]): void {
  if (tables.length === 0) return;
  console.log(`\n## Benchmark summary\n\n${machineLine()}\n`);
  for (const table of tables) console.log(`${table.markdown()}\n`);
}
