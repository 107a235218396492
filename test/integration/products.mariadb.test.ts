/** The products service on MariaDB. */
import { productSuite } from "./products.suite";

productSuite("mariadb");
