// Minimal Node.js Socket.IO server for the side-by-side broadcast benchmark (bench/broadcast/run.py).
//
// Semantics shared by all three servers: a "msg" event from one client is relayed to every other
// connected client (socket.broadcast.emit: everyone except the sender), unchanged. Websocket
// transport only (no long-polling), no per-message compression, so the three servers move the
// same uncompressed frames.
//
//   node socketio_server.mjs <port>
//
// run.py copies this file next to the scratch node_modules (bench/results/broadcast-peers/) and runs
// it there, so that the bare import below resolves without anything installed in the repository.

import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false });

io.on("connection", (socket) => {
  socket.on("msg", (payload) => socket.broadcast.emit("msg", payload));
});

http.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ event: "listening", port }));
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
