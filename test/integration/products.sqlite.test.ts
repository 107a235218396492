/** The products service on SQLite. */
import { productSuite } from "./products.suite";

productSuite("sqlite");
