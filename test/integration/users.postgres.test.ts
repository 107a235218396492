/** The users service on PostgreSQL. */
import { userSuite } from "./users.suite";

userSuite("postgres");
