// Healthcheck of the compose `mongo` service (run by mongosh as the root user).
//
// On the first start it also initiates the one-member replica set rs0: that
// cannot happen in docker-entrypoint-initdb.d, where mongod runs without
// --replSet. The member is named by its compose service name, which suiji's
// driver then uses to reach it. Healthy = this member is a writable primary.
try {
  rs.status();
} catch (e) {
  // NotYetInitialized (94): first start. Anything else is a real failure.
  if (e.code !== 94) {
    throw e;
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
if (!db.hello().isWritablePrimary) {
  quit(1);
}
