import { parseSort, toView } from "../../services/products/catalog";
import { containsPattern } from "../../lib/sql";
import { normalizeLines, toReservation } from "../../services/products/stock";

describe("catalog rules", () => {
  it("always breaks sort ties by id", () => {
    expect(parseSort(undefined)).toEqual([{ field: "id", direction: "ASC" }]);
    expect(parseSort("-price")).toEqual([
      { field: "price", direction: "DESC" },
      { field: "id", direction: "ASC" },
    ]);
    expect(parseSort("name")).toEqual([
      { field: "name", direction: "ASC" },
      { field: "id", direction: "ASC" },
    ]);
  });

  it("matches %, _ and the escape character literally in name search", () => {
    expect(containsPattern("50%_Off!")).toBe("%50!%!_off!!%");
    expect(containsPattern("Mug")).toBe("%mug%");
  });

  it("shows available stock as stock minus live reservations, never below zero", () => {
    const record = {
      id: 1, sku: "A", name: "A", description: null, price: 1999, currency: "USD", stock: 5, reserved: 2,
      category: "c", imageUrl: null, isActive: 1, createdAt: new Date(0), updatedAt: "1970-01-01T00:00:00.000Z",
    };
    expect(toView(record)).toMatchObject({ stock: 5, available: 3, price: 1999, isActive: true, createdAt: "1970-01-01T00:00:00.000Z" });
    expect(toView({ ...record, reserved: 9 }).available).toBe(0);
  });
});

describe("stock rules", () => {
  it("merges repeated products and orders lines by product id", () => {
    expect(normalizeLines([{ productId: 9, quantity: 1 }, { productId: 2, quantity: 3 }, { productId: 9, quantity: 4 }])).toEqual([
      { productId: 2, quantity: 3 },
      { productId: 9, quantity: 5 },
    ]);
  });

  it("reads an order's rows as one reservation", () => {
    const at = "2030-01-01T00:00:00.000Z";
    expect(toReservation("o1", [{ productId: 2, quantity: 1, status: "active", expiresAt: at }])).toEqual({
      orderId: "o1", status: "active", expiresAt: at, lines: [{ productId: 2, quantity: 1 }],
    });
    expect(toReservation("o1", [{ productId: 2, quantity: 1, status: "committed", expiresAt: at }]).status).toBe("committed");
    expect(toReservation("o1", [{ productId: 2, quantity: 1, status: "released", expiresAt: at }]).status).toBe("released");
  });
});
