/**
 * Two things fastest-validator cannot say, checked once for every action the gateway routes (those
 * that declare `rest`), after the parameters were validated:
 * - no string (value or key, at any depth) carries a C0/C1 control character other than tab, LF and
 *   CR: PostgreSQL refuses NUL, and no field of the shop has a use for the others;
 * - no field is null unless its rule says `nullable: true`: fastest-validator lets null through
 *   every `optional` rule, and a null for a NOT NULL column would reach the database as a 500.
 * A problem is answered like any other validation failure: 422 VALIDATION_ERROR naming the field.
 * (How deep a body may nest is the gateway's check, before anything walks it: nestedDeeperThan.)
 */
import { Errors, type Middleware } from "moleculer";

export interface InputProblem {
  field: string;
  type: string;
  message: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

const fieldName = (parent: string, key: string | number): string =>
  typeof key === "number" ? `${parent}[${key}]` : parent ? `${parent}.${key}` : key;

/** Enough to show a client what is wrong without echoing a whole hostile body back. */
const MAX_PROBLEMS = 20;

interface Visit {
  value: unknown;
  key?: string | number;
  parent?: Visit;
}

/** The field path of a visited value, built only for the few that have a problem. */
function pathOf(visit: Visit, root: string): string {
  const keys: (string | number)[] = [];
  for (let v: Visit | undefined = visit; v?.key !== undefined; v = v.parent) keys.push(v.key);
  return keys.reverse().reduce<string>(fieldName, root);
}

const isContainer = (value: unknown): value is object =>
  !!value && typeof value === "object" && !Buffer.isBuffer(value) && !(value instanceof Date);

/**
 * Every string in `value` (keys included) that carries a control character, by field path. A walk
 * with its own queue, not recursion: no nesting can overflow the stack.
 */
export function controlCharacterProblems(value: unknown, field = ""): InputProblem[] {
  const problems: InputProblem[] = [];
  const problem = (at: string) => {
    const name = at || "body";
    problems.push({ field: name, type: "stringControlCharacter", message: `The '${name}' field may not contain control characters.` });
  };
  const queue: Visit[] = [{ value }];
  for (let i = 0; i < queue.length && problems.length < MAX_PROBLEMS; i++) {
    const visit = queue[i];
    if (typeof visit.value === "string") {
      if (CONTROL_CHARACTER.test(visit.value)) problem(pathOf(visit, field));
    } else if (Array.isArray(visit.value)) {
      visit.value.forEach((item, index) => queue.push({ value: item, key: index, parent: visit }));
    } else if (isContainer(visit.value)) {
      for (const [key, item] of Object.entries(visit.value)) {
        if (CONTROL_CHARACTER.test(key)) problem(pathOf({ value: item, key, parent: visit }, field));
        else queue.push({ value: item, key, parent: visit });
      }
    }
  }
  return problems;
}

/** Whether `value` nests arrays or objects deeper than `maxDepth` (a walk with its own stack). */
export function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (!isContainer(item)) continue;
    if (depth >= maxDepth) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

type Rule = string | Record<string, any> | Rule[] | undefined;

const allowsNull = (rule: Rule): boolean => {
  if (typeof rule === "string") return rule.split("|").some((flag) => flag === "nullable" || flag === "nullable:true");
  if (Array.isArray(rule)) return rule.some(allowsNull);
  return rule?.nullable === true;
};

/** Every field of `params` that is null although its rule (in `schema`, nested objects included) does not allow it. */
export function nullProblems(params: unknown, schema: Record<string, unknown> | undefined, parent = ""): InputProblem[] {
  if (!schema || !params || typeof params !== "object" || Array.isArray(params)) return [];
  return Object.entries(params as Record<string, unknown>).flatMap(([key, value]) => {
    const rule = key.startsWith("$$") ? undefined : (schema[key] as Rule);
    // A field without a rule was not declared: $$strict decides about it, not this check.
    if (rule === undefined) return [];
    const field = fieldName(parent, key);
    if (value === null) {
      return allowsNull(rule) ? [] : [{ field, type: "required", message: `The '${field}' field may not be null.` }];
    }
    if (typeof rule === "object" && !Array.isArray(rule)) {
      const props = rule.props ?? rule.properties;
      if (rule.type === "object" && props) return nullProblems(value, props, field);
      const items = rule.items;
      if (rule.type === "array" && Array.isArray(value) && items && typeof items === "object" && !Array.isArray(items)) {
        const itemProps = items.props ?? items.properties;
        if (items.type === "object" && itemProps) return value.flatMap((item, i) => nullProblems(item, itemProps, fieldName(field, i)));
      }
    }
    return [];
  });
}

/**
 * fastest-validator gives an optional field that was not sent the key `undefined` when its rule has
 * a `custom` check (the character counts of lib/params.ts): a field that was not sent stays absent,
 * so that `{...defaults, ...params}` and "nothing to change" mean what they say.
 */
export function dropUndefined(params: unknown): void {
  if (!params || typeof params !== "object" || Array.isArray(params)) return;
  for (const key of Object.keys(params)) if ((params as Record<string, unknown>)[key] === undefined) delete (params as Record<string, unknown>)[key];
}

/** Broker middleware: the checks above on the parameters of every REST action, wherever it runs. */
export const ClientInputMiddleware: Middleware = {
  name: "ClientInput",
  localAction(next: any, action: any) {
    if (!action.rest) return next;
    return (ctx: any) => {
      dropUndefined(ctx.params);
      const problems = [...controlCharacterProblems(ctx.params), ...nullProblems(ctx.params, action.params)];
      if (problems.length) return Promise.reject(new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", problems));
      return next(ctx);
    };
  },
} as Middleware;
