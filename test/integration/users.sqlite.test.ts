/** The users service on SQLite. */
import { userSuite } from "./users.suite";

userSuite("sqlite");
