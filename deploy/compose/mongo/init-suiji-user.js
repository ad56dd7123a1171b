// Creates suiji's own MongoDB user, with readWrite on suiji's database only
// (enough to create its indexes). The mongo image runs this once, as the root
// user, on the first start with an empty data volume. Changing
// MONGO_SUIJI_PASSWORD later needs db.changeUserPassword in mongosh.
const dbName = process.env.SUIJI_MONGO_DATABASE || "suiji";
db.getSiblingDB(dbName).createUser({
  user: process.env.MONGO_SUIJI_USERNAME || "suiji",
  pwd: process.env.MONGO_SUIJI_PASSWORD,
  roles: [{ role: "readWrite", db: dbName }],
});
