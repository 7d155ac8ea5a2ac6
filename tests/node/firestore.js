// Starts the in-memory Firestore emulator for the Python tests: node firestore.js PORT
// Listens on 127.0.0.1 only and prints one "listening" line once it accepts calls.
"use strict";
const { FirestoreServer, FirestoreState } = require("@firestore-emulator/server");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node firestore.js PORT");
  process.exit(2);
}

// Fix: a plain set() (an update write with no update_mask and no exists precondition) must
// replace the whole document, as Firestore does; this emulator merges it into the old fields,
// so a field dropped by a read-modify-write would survive. Clear the document first.
const writeV1Document = FirestoreState.prototype.writeV1Document;
FirestoreState.prototype.writeV1Document = function (date, write) {
  const precondition = write.has_current_document && write.current_document.has_exists;
  if (write.has_update && !write.has_update_mask && !precondition) {
    const document = this.getDocument(write.update.name);
    if (document.metadata.hasExist) document.fields = {};
  }
  return writeV1Document.call(this, date, write);
};

const emulator = new FirestoreServer();
// start() binds 0.0.0.0; narrow it to loopback (the tests only talk to 127.0.0.1).
const grpcServer = emulator.server;
const bind = grpcServer.bindAsync.bind(grpcServer);
grpcServer.bindAsync = (address, credentials, callback) =>
  bind(address.replace(/^0\.0\.0\.0:/, "127.0.0.1:"), credentials, callback);

emulator.start(port).then(
  () => console.log(`firestore emulator listening on 127.0.0.1:${port}`),
  (err) => {
    console.error(`firestore emulator failed to start: ${err}`);
    process.exit(1);
  },
);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    emulator.stop();
    process.exit(0);
  });
}
