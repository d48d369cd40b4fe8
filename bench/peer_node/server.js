// The `peer_node`: what most teams would build for this job — Node.js Socket.IO 4 with its
// Redis adapter — doing the same work as the python-socketio peer (bench/peer_socketio.py).
//
//   node bench/peer_node/server.js --redis-url unix:///…/redis.sock
//   (the token secret comes from the BENCH_TOKEN_SECRET environment variable)
//
// Clients connect with a token in the Socket.IO `auth` payload (the HS256 JWT the presence
// server verifies, checked here with jsonwebtoken in a connection middleware). An agent's
// state is written to a Redis hash on sign-in, on every `set_presence` and on disconnect,
// and each change is emitted to the `supervisors` room through @socket.io/redis-adapter
// (which delivers to this process's sockets and publishes to Redis for the other
// processes). `set_presence` is acknowledged with the new version. Default Socket.IO
// settings (no per-message deflate, pings every 25 s, as python-socketio's), node-redis 4.
//
// Listens on 127.0.0.1, a port the kernel picks, with the harness's backlog, and prints
// `port <n>` once Redis is connected and the socket listens (bench/procs.py waits for it).
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const inspector = require("node:inspector");
const os = require("node:os");
const path = require("node:path");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
const jwt = require("jsonwebtoken");

const BACKLOG = 4096; // bench.common.BACKLOG
const PRESENCE_KEYS = ["agent_id", "status_id", "text", "base", "source", "reason", "since",
  "version", "actor"];

function option(name) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

// node-redis takes redis:// URLs; a unix socket (the embedded Valkey's default) is a path.
function redisOptions(url) {
  if (url.startsWith("unix://")) {
    return { socket: { path: url.slice("unix://".length) } };
  }
  return { url };
}

// The same fields as bench.bare_server.agent_view, so frames are as large as ours.
function agentView(agentId, statusId, version) {
  return {
    agent_id: agentId, status_id: statusId,
    text: statusId.charAt(0).toUpperCase() + statusId.slice(1),
    base: statusId === "available" ? "available" : "busy", source: "manual",
    reason: "manual", since: Date.now(), version, actor: null, name: agentId, team: "t1",
    connections: 1, signed_in: true, grace_until: null,
    capacity: { units: 100, used: 0, free: 100, profiles: [], blocked: false },
  };
}

function frame(view) {
  const presence = {};
  for (const key of PRESENCE_KEYS) presence[key] = view[key];
  return { type: "presence", presence, agent: view };
}

// SIGUSR2 starts V8's CPU profiler (what `node --cpu-prof` runs, but for a window of the
// run rather than the whole process); the next SIGUSR2 stops it, writes a .cpuprofile to
// the temporary directory and prints `profile <path>` (bench/peer_node.py collects it).
function profileOnSignal() {
  let session = null;
  let count = 0;
  process.on("SIGUSR2", () => {
    if (session === null) {
      session = new inspector.Session();
      session.connect();
      session.post("Profiler.enable");
      session.post("Profiler.setSamplingInterval", { interval: 1000 });
      session.post("Profiler.start");
      return;
    }
    const done = session;
    session = null;
    done.post("Profiler.stop", (err, result) => {
      count += 1;
      const out = path.join(os.tmpdir(), `peer-node-${process.pid}-${count}.cpuprofile`);
      if (!err) fs.writeFileSync(out, JSON.stringify(result.profile));
      process.stdout.write(err ? `profile-error ${err.message}\n` : `profile ${out}\n`);
      done.disconnect();
    });
  });
}

async function main() {
  profileOnSignal();
  const redisUrl = option("--redis-url");
  const secret = process.env.BENCH_TOKEN_SECRET;
  if (!redisUrl || !secret) {
    throw new Error("expected --redis-url URL and BENCH_TOKEN_SECRET in the environment");
  }
  const redis = createClient(redisOptions(redisUrl));
  const pubClient = createClient(redisOptions(redisUrl));
  const subClient = pubClient.duplicate();
  for (const client of [redis, pubClient, subClient]) {
    client.on("error", (err) => console.error("redis:", err.message));
  }
  await Promise.all([redis.connect(), pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer({ noDelay: true });
  const io = new Server(httpServer, { serveClient: false, adapter: createAdapter(pubClient, subClient) });

  async function store(view) {
    await redis.hSet(`peer:agent:${view.agent_id}`,
      { doc: JSON.stringify(view), version: String(view.version) });
  }

  async function announce(view) {
    await store(view);
    io.to("supervisors").emit("presence", frame(view));
  }

  io.use((socket, next) => {
    const token = (socket.handshake.auth || {}).token || "";
    jwt.verify(token, secret, { algorithms: ["HS256"], issuer: "presence" }, (err, claims) => {
      if (err) return next(new Error("invalid token"));
      socket.data = { role: claims.role, agentId: String(claims.sub), version: 0 };
      next();
    });
  });

  io.on("connection", async (socket) => {
    const session = socket.data;
    socket.on("set_presence", async (data, ack) => {
      try {
        const view = agentView(session.agentId, String(data.status_id), Number.parseInt(data.seq, 10));
        await announce(view);
        if (typeof ack === "function") ack({ presence: { version: view.version } });
      } catch (err) {
        console.error("set_presence:", err.message);
      }
    });
    socket.on("disconnect", async () => {
      if (session.role !== "agent") return;
      try {
        await announce(agentView(session.agentId, "offline", session.version + 1));
      } catch (err) {
        console.error("disconnect:", err.message);
      }
    });
    try {
      if (session.role === "agent") {
        const view = agentView(session.agentId, "available", 0);
        await store(view);
        socket.emit("welcome", { agent_id: session.agentId, presence: view });
        io.to("supervisors").emit("presence", frame(view));
      } else {
        socket.join("supervisors");
        socket.emit("snapshot", { agents: [] });
      }
    } catch (err) {
      console.error("connection:", err.message);
      socket.disconnect(true);
    }
  });

  httpServer.listen({ host: "127.0.0.1", port: 0, backlog: BACKLOG }, () => {
    process.stdout.write(`port ${httpServer.address().port}\n`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
