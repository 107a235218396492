import { containsPattern, parseSort, toView } from "../../services/products/catalog";

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
      id: 1, sku: "A", name: "A", description: null, price: 1999, currency: "USD", stock: 5,
      category: "c", imageUrl: null, isActive: true, createdAt: new Date(0), updatedAt: "1970-01-01T00:00:00.000Z",
    };
    expect(toView(record, 2)).toMatchObject({ stock: 5, available: 3, price: 1999, createdAt: "1970-01-01T00:00:00.000Z" });
    expect(toView(record, 9).available).toBe(0);
  });
});
