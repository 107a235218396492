/** Pure rules of accounts: email identity, password policy, what a user looks like to clients. */
import { DomainError } from "../../lib/errors";
import { normalizeEmail } from "../../lib/email";
import { email, name, text } from "../../lib/params";

export { normalizeEmail };

export type Role = "user" | "admin";
export const ROLES: readonly Role[] = ["user", "admin"];

/** At least 8 characters, at most 128, and not the email itself. */
export function checkPassword(password: string, email: string): void {
  const problems: { field: string; type: string; message: string }[] = [];
  // Characters (code points), as the document's minLength/maxLength count them: an emoji is one.
  const length = [...password].length;
  if (length < 8) problems.push({ field: "password", type: "passwordTooShort", message: "The password must have at least 8 characters" });
  if (length > 128) problems.push({ field: "password", type: "passwordTooLong", message: "The password must have at most 128 characters" });
  if (normalizeEmail(password) === normalizeEmail(email)) problems.push({ field: "password", type: "passwordIsEmail", message: "The password may not be the email" });
  if (problems.length) throw new DomainError(422, "VALIDATION_ERROR", "Parameters validation error!", problems);
}

export interface UserRecord {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
  isActive: boolean | number;
  createdAt: Date | string;
  updatedAt: Date | string;
  passwordHash?: string;
}

export interface UserView {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What clients see of a user: never the password hash. */
export function toUserView(u: UserRecord): UserView {
  return {
    id: u.id,
    email: u.email,
    firstName: u.firstName,
    lastName: u.lastName,
    role: u.role,
    isActive: Boolean(u.isActive),
    createdAt: new Date(u.createdAt).toISOString(),
    updatedAt: new Date(u.updatedAt).toISOString(),
  };
}

/** Parameter schemas shared by the actions and the OpenAPI document. */
export const accountFields = {
  email: email(),
  password: text(128, { min: 8 }),
  firstName: name(100),
  lastName: name(100),
} as const;

/** Names are stored trimmed (the rules only ask that they are not blank). */
export const TRIMMED_FIELDS = ["firstName", "lastName"] as const;
