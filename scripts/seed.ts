/**
 * Fills the catalog with a realistic, deterministic set of products (same input, same catalog).
 *
 *   npm run seed                      1,000 products over 12 categories into the embedded shop's data
 *   npm run seed -- --count 5000      any size
 *   TRANSPORTER=nats://... npm run seed   into a running cluster (through its products service)
 *
 * Re-running is harmless: products whose SKU exists are skipped.
 */
import { ServiceBroker } from "moleculer";
import { config } from "../lib/config";

const CATEGORIES: Record<string, { nouns: string[]; min: number; max: number }> = {
  books: { nouns: ["Novel", "Cookbook", "Field Guide", "Atlas", "Biography"], min: 799, max: 5999 },
  electronics: { nouns: ["Headphones", "Charger", "Speaker", "Keyboard", "Monitor"], min: 1999, max: 49999 },
  kitchen: { nouns: ["Mug", "Pan", "Knife", "Kettle", "Cutting Board"], min: 499, max: 15999 },
  garden: { nouns: ["Trowel", "Planter", "Hose", "Seed Kit", "Pruner"], min: 699, max: 8999 },
  toys: { nouns: ["Puzzle", "Robot", "Board Game", "Kite", "Building Set"], min: 999, max: 12999 },
  sports: { nouns: ["Yoga Mat", "Football", "Water Bottle", "Racket", "Jump Rope"], min: 899, max: 19999 },
  beauty: { nouns: ["Soap", "Lotion", "Shampoo", "Lip Balm", "Face Mask"], min: 299, max: 4999 },
  clothing: { nouns: ["T-Shirt", "Hoodie", "Scarf", "Socks", "Jacket"], min: 999, max: 24999 },
  office: { nouns: ["Notebook", "Pen Set", "Desk Lamp", "Stapler", "Organizer"], min: 199, max: 9999 },
  pets: { nouns: ["Leash", "Pet Bed", "Chew Toy", "Bowl", "Brush"], min: 399, max: 7999 },
  music: { nouns: ["Guitar Strings", "Capo", "Metronome", "Harmonica", "Drumsticks"], min: 499, max: 14999 },
  travel: { nouns: ["Backpack", "Luggage Tag", "Neck Pillow", "Packing Cubes", "Adapter"], min: 599, max: 29999 },
};
const ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Everyday", "Handmade", "Pro", "Rustic", "Smart", "Vintage", "Bold", "Quiet"];
const COLORS = ["Red", "Blue", "Green", "Black", "White", "Sand", "Teal", "Plum"];

/** A small deterministic generator (mulberry32): the same seed gives the same catalog. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function catalog(count: number): Record<string, unknown>[] {
  const rand = random(42);
  const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)];
  const names = Object.keys(CATEGORIES);
  return Array.from({ length: count }, (_, i) => {
    const category = names[i % names.length];
    const { nouns, min, max } = CATEGORIES[category];
    const name = `${pick(ADJECTIVES)} ${pick(COLORS)} ${pick(nouns)}`;
    const price = Math.round((min + rand() * (max - min)) / 10) * 10 - 1; // prices end in 9
    const stock = rand() < 0.05 ? 0 : Math.floor(rand() * 200);
    return {
      sku: `SEED-${category.slice(0, 4).toUpperCase()}-${String(i + 1).padStart(6, "0")}`,
      name,
      description: `${name}: a ${category} staple from the seed catalog.`,
      price,
      currency: "USD",
      stock,
      category,
      imageUrl: `https://images.example.com/${category}/${i + 1}.jpg`,
    };
  });
}

function progress(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r  [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`);
}

async function main(): Promise<void> {
  const flag = process.argv.indexOf("--count");
  const count = Number(flag > 0 ? process.argv[flag + 1] : (process.env.SEED_PRODUCTS ?? 1000));
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new Error("--count must be a whole number from 1 to 1,000,000");

  process.env.LOG_LEVEL ??= "warn"; // before the configuration is read: progress, not broker chatter
  const cfg = config();
  const { default: brokerConfig } = await import("../moleculer.config");
  const broker = new ServiceBroker({ ...brokerConfig, nodeID: `seed-${process.pid}`, logLevel: "warn", metrics: false });
  // Embedded: run the products service here on the same database the shop uses.
  if (cfg.embedded) broker.createService((await import("../services/products/products.service")).default);
  await broker.start();
  await broker.waitForServices("products", 30_000);

  const products = catalog(count);
  console.log(`Seeding ${count} products over ${Object.keys(CATEGORIES).length} categories into ${cfg.embedded ? cfg.db.products : "the cluster"}`);
  const started = Date.now();
  const batch = 200;
  for (let i = 0; i < products.length; i += batch) {
    await broker.call("products.createMany", { products: products.slice(i, i + batch) });
    progress(Math.min(i + batch, products.length), products.length);
  }
  process.stderr.write("\n");
  const stats: any = await broker.call("products.stats");
  console.log(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s: the active catalog has ${stats.products} products in ${stats.categories} categories.`);
  await broker.stop();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`Seeding failed: ${err.message}`);
    process.exit(1);
  });
}
