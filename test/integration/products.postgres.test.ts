/** The products service on PostgreSQL. */
import { productSuite } from "./products.suite";

productSuite("postgres");
