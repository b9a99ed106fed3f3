// gosignalr chat page. Plain script, no build step; the page's
// Content-Security-Policy forbids inline code, so all behaviour lives here.
// User-supplied text is only ever set with textContent (never parsed as HTML).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    state: $("state"),
    connectionId: $("connection-id"),
    transport: $("transport"),
    toggle: $("toggle"),
    name: $("name"),
    groupForm: $("group-form"),
    group: $("group"),
    join: $("join"),
    leave: $("leave"),
    joined: $("joined"),
    messages: $("messages"),
    sendForm: $("send-form"),
    target: $("target"),
    message: $("message"),
    send: $("send"),
    notice: $("notice"),
    clientVersion: $("client-version"),
  };

  const MAX_ENTRIES = 500; // oldest entries are dropped beyond this
  const RETRY_MS = 5000; // retry delay after a failed start or a final close
  const NAME_KEY = "gosignalr.chat.name";

  if (typeof signalR === "undefined") {
    notice("The SignalR client did not load from " + document.body.dataset.clientUrl + ".", true);
    return;
  }
  ui.clientVersion.textContent = signalR.VERSION;

  // The transport in use is not public API; the client logs its choice
  // ("Selecting transport 'WebSockets'."), so a small logger picks it up and
  // forwards warnings and errors to the console.
  let transport = "";
  const logger = {
    log(level, message) {
      const m = /^Selecting transport '(\w+)'\.?$/.exec(message);
      if (m) {
        transport = m[1];
      }
      if (level >= signalR.LogLevel.Error) {
        console.error("[signalr] " + message);
      } else if (level >= signalR.LogLevel.Warning) {
        console.warn("[signalr] " + message);
      }
    },
  };

  // ?transport=WebSockets|ServerSentEvents|LongPolling pins one transport.
  const connectionOptions = {};
  const wanted = new URLSearchParams(location.search).get("transport");
  if (wanted && Object.prototype.hasOwnProperty.call(signalR.HttpTransportType, wanted) &&
      typeof signalR.HttpTransportType[wanted] === "number" && signalR.HttpTransportType[wanted] !== 0) {
    connectionOptions.transport = signalR.HttpTransportType[wanted];
  }

  const connection = new signalR.HubConnectionBuilder()
    .withUrl(document.body.dataset.hubUrl, connectionOptions)
    .withAutomaticReconnect() // retries after 0, 2, 10 and 30 seconds, then gives up (onclose)
    .configureLogging(logger)
    .build();

  const joined = new Set(); // groups this page has joined; re-joined after a reconnect
  let wantConnected = true; // false after the user pressed Disconnect
  let retryTimer = 0;

  // ---- rendering -------------------------------------------------------

  function setState(state) {
    ui.state.textContent = state;
    ui.state.dataset.state = state;
    document.body.dataset.state = state;
    const connected = state === "connected";
    ui.connectionId.textContent = connected || state === "reconnecting" ? (connection && connection.connectionId) || "–" : "–";
    ui.transport.textContent = connected ? transport || "unknown" : "–";
    ui.send.disabled = !connected;
    ui.join.disabled = !connected;
    ui.leave.disabled = !connected;
    ui.toggle.disabled = false;
    ui.toggle.textContent = state === "disconnected" ? "Connect" : "Disconnect";
  }

  function notice(text, isError) {
    ui.notice.textContent = text;
    ui.notice.classList.toggle("error", !!isError);
  }

  function timeNow() {
    const d = new Date();
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0") + ":" +
      String(d.getSeconds()).padStart(2, "0");
  }

  // addEntry appends one line: kind is "all", "group" or "system".
  function addEntry(kind, label, user, text) {
    const stick = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
    const li = document.createElement("li");
    li.className = "entry " + kind;
    li.dataset.kind = kind;
    const time = document.createElement("time");
    time.textContent = timeNow();
    li.append(time, " ");
    if (label) {
      const l = document.createElement("span");
      l.className = "label";
      l.textContent = "[" + label + "]";
      li.append(l, " ");
    }
    if (user !== null) {
      const u = document.createElement("strong");
      u.className = "user";
      u.textContent = String(user);
      li.append(u, ": ");
    }
    const t = document.createElement("span");
    t.className = "text";
    t.textContent = String(text);
    li.append(t);
    ui.messages.append(li);
    while (ui.messages.childElementCount > MAX_ENTRIES) {
      ui.messages.firstElementChild.remove();
    }
    if (stick) {
      ui.messages.scrollTop = ui.messages.scrollHeight;
    }
  }

  function system(text) {
    addEntry("system", "", null, text);
  }

  function who(connectionId) {
    return connectionId === connection.connectionId ? connectionId + " (you)" : connectionId;
  }

  function renderGroups() {
    ui.joined.textContent = joined.size ? Array.from(joined).join(", ") : "none";
    const current = ui.target.value;
    while (ui.target.options.length > 1) {
      ui.target.remove(1);
    }
    for (const g of joined) {
      ui.target.add(new Option("[" + g + "]", g));
    }
    ui.target.value = joined.has(current) ? current : "";
  }

  // ---- hub methods the server calls ------------------------------------

  connection.on("ReceiveMessage", (user, message) => addEntry("all", "ALL", user, message));
  connection.on("ReceiveGroupMessage", (group, user, message) => addEntry("group", group, user, message));
  connection.on("UserConnected", (id) => system(who(id) + " connected"));
  connection.on("UserDisconnected", (id) => system(who(id) + " disconnected"));
  connection.on("UserJoinedGroup", (user, group) => system(who(user) + " joined " + group));
  connection.on("UserLeftGroup", (user, group) => system(who(user) + " left " + group));

  // ---- connection lifecycle ---------------------------------------------

  connection.onreconnecting((err) => {
    setState("reconnecting");
    system("connection lost" + (err ? " (" + err.message + ")" : "") + ", reconnecting…");
  });

  connection.onreconnected(async () => {
    setState("connected");
    system("reconnected as " + connection.connectionId);
    await rejoinGroups();
  });

  connection.onclose((err) => {
    setState("disconnected");
    if (wantConnected) {
      system("disconnected" + (err ? " (" + err.message + ")" : "") + "; retrying in " + RETRY_MS / 1000 + " s");
      scheduleStart();
    } else {
      system("disconnected");
    }
  });

  function scheduleStart() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(start, RETRY_MS);
  }

  async function start() {
    clearTimeout(retryTimer);
    if (!wantConnected || connection.state !== signalR.HubConnectionState.Disconnected) {
      return;
    }
    transport = "";
    setState("connecting");
    try {
      await connection.start();
    } catch (err) {
      setState("disconnected");
      notice("Could not connect: " + err.message, true);
      if (wantConnected) {
        scheduleStart();
      }
      return;
    }
    notice("");
    setState("connected");
    await rejoinGroups();
  }

  // A new connection is a new connection id: group membership does not
  // survive a reconnect, so join the page's groups again.
  async function rejoinGroups() {
    for (const g of Array.from(joined)) {
      try {
        await connection.invoke("JoinGroup", g);
      } catch (err) {
        joined.delete(g);
        notice("Could not rejoin " + g + ": " + err.message, true);
      }
    }
    renderGroups();
  }

  ui.toggle.addEventListener("click", async () => {
    if (connection.state === signalR.HubConnectionState.Disconnected) {
      wantConnected = true;
      await start();
      return;
    }
    wantConnected = false;
    clearTimeout(retryTimer);
    ui.toggle.disabled = true;
    await connection.stop();
  });

  // ---- user actions --------------------------------------------------------

  async function call(what, method, ...args) {
    try {
      await connection.invoke(method, ...args);
      notice("");
      return true;
    } catch (err) {
      notice(what + " failed: " + err.message, true);
      return false;
    }
  }

  ui.sendForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = ui.name.value.trim();
    const text = ui.message.value;
    if (!name) {
      notice("Enter your name first.", true);
      ui.name.focus();
      return;
    }
    if (!text.trim()) {
      return;
    }
    const group = ui.target.value;
    const ok = group
      ? await call("Send", "SendMessageToGroup", group, name, text)
      : await call("Send", "SendMessage", name, text);
    if (ok) {
      ui.message.value = "";
      ui.message.focus();
    }
  });

  ui.groupForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const group = ui.group.value.trim();
    if (!group) {
      return;
    }
    if (await call("Join", "JoinGroup", group)) {
      joined.add(group);
      renderGroups();
      ui.target.value = group;
    }
  });

  ui.leave.addEventListener("click", async () => {
    const group = ui.group.value.trim() || ui.target.value;
    if (!group) {
      return;
    }
    if (await call("Leave", "LeaveGroup", group)) {
      joined.delete(group);
      renderGroups();
      system("you left " + group); // the server tells only the remaining members
    }
  });

  try {
    ui.name.value = localStorage.getItem(NAME_KEY) || "";
  } catch (_) {
    // storage may be disabled; the name is then just not remembered
  }
  ui.name.addEventListener("change", () => {
    try {
      localStorage.setItem(NAME_KEY, ui.name.value.trim());
    } catch (_) {
      // see above
    }
  });

  start();
})();
