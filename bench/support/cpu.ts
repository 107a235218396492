/**
 * CPU time of processes over a window, from /proc/<pid>/stat (Linux): utime + stime in clock
 * ticks, plus cutime + cstime, the ticks of children the process has reaped (a PostgreSQL backend
 * that exits during the window is counted in the postmaster that waits for it).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

interface ProcessInfo {
  pid: number;
  /** The kernel's name for it (at most 15 characters), e.g. "postgres" for every backend. */
  comm: string;
  ticks: number;
  /** read and write system calls so far (/proc/<pid>/io syscr, syscw): each socket round trip costs some. */
  reads: number;
  writes: number;
}

/** A set of processes measured together, e.g. every postgres process. */
export interface CpuGroup {
  name: string;
  matches(p: ProcessInfo): boolean;
}

export interface CpuUsage {
  name: string;
  ms: number;
  processes: number;
  /** read and write system calls over the window. */
  reads: number;
  writes: number;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm sits in parentheses and may itself hold spaces or parentheses: the fields follow the last ")".
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    // fields[0] is field 3 (state) of proc(5): utime, stime, cutime, cstime are fields 14 to 17.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { pid, comm: stat.slice(stat.indexOf("(") + 1, close), ticks, ...systemCalls(pid) };
  } catch {
    return undefined; // gone between listing and reading
  }
}

function systemCalls(pid: number): { reads: number; writes: number } {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? 0);
    return { reads: field("syscr"), writes: field("syscw") };
  } catch {
    return { reads: 0, writes: 0 }; // gone, or not ours to read
  }
}

function allProcesses(): ProcessInfo[] {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProcess(Number(entry)))
    .filter((p): p is ProcessInfo => p !== undefined);
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

export const byPid = (name: string, pids: number[]): CpuGroup => ({ name, matches: (p) => pids.includes(p.pid) });
export const byName = (name: string, comm = name): CpuGroup => ({ name, matches: (p) => p.comm === comm });

/** The servers of the real stack, found by process name. */
export const STACK_SERVERS: CpuGroup[] = [
  byName("postgres"),
  byName("mariadbd"),
  byName("redis-server"),
  byName("nats-server"),
  { name: "kafka (java)", matches: (p) => p.comm === "java" && commandLine(p.pid).includes("kafka.Kafka") },
  byName("stripe-mock"),
];

/** Starts counting now; `stop()` returns each group's CPU time since then. */
export function startCpuWindow(groups: CpuGroup[]): { stop(): CpuUsage[] } {
  const before = new Map(allProcesses().map((p) => [p.pid, p]));
  return {
    stop() {
      const after = allProcesses();
      return groups.map((group) => {
        const members = after.filter((p) => group.matches(p));
        // A process that appeared during the window counts from 0.
        const since = (p: ProcessInfo, field: "ticks" | "reads" | "writes") => p[field] - (before.get(p.pid)?.[field] ?? 0);
        const sum = (field: "ticks" | "reads" | "writes") => members.reduce((total, p) => total + since(p, field), 0);
        return { name: group.name, ms: (sum("ticks") * 1000) / CLK_TCK, processes: members.length, reads: sum("reads"), writes: sum("writes") };
      });
    },
  };
}
