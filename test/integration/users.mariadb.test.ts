/** The users service on MariaDB. */
import { userSuite } from "./users.suite";

userSuite("mariadb");
