/* The share-link tracking page: an offline SVG view of the job site, the contractor's marker
 * and trail, the ETA and the job status, kept live over Socket.IO (the client the hub serves
 * itself, static/socket.io.min.js). No network access besides the hub. */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var VIEW = 1000; // the SVG's viewBox is VIEW x VIEW
  var MARGIN = 70; // px kept free around the fitted points
  var MIN_HALF_M = 150; // never zoom in further than 300 m across
  var TRAIL_MAX = 2000;
  var M_PER_DEG_LAT = 110574;
  var M_PER_DEG_LNG = 111320;

  var STATUS_TEXT = {
    open: "Looking for a contractor",
    assigned: "Contractor booked",
    en_route: "On the way",
    arrived: "Arrived",
    in_progress: "Work in progress",
    completed: "Job completed",
    cancelled: "Job cancelled"
  };

  var state = JSON.parse(document.getElementById("state").textContent);
  var parts = location.pathname.split("/");
  var token = decodeURIComponent(parts[parts.length - 1]);
  var basePath = location.pathname.replace(/\/track\/[^\/]*$/, "");

  var el = {
    status: document.getElementById("status"),
    eta: document.getElementById("eta"),
    distance: document.getElementById("distance"),
    updated: document.getElementById("updated"),
    connection: document.getElementById("connection"),
    rings: document.getElementById("rings"),
    trail: document.getElementById("trail"),
    site: document.getElementById("site"),
    contractor: document.getElementById("contractor"),
    heading: document.getElementById("heading"),
    scaleBar: document.getElementById("scale-bar"),
    scaleText: document.getElementById("scale-text")
  };

  var site = state.site;
  var cosLat = Math.cos((site.lat * Math.PI) / 180);
  var trail = (state.breadcrumb || []).map(function (p) { return [p.lat, p.lng]; });
  var current = null; // latest point {lat, lng, ts, heading?}
  var status = state.status;
  var etaS = state.eta_s;
  var distanceM = state.distance_m;
  var ended = false;

  if (state.location) {
    current = state.location;
  }

  // Metres east and north of the job site (a local plane: exact enough for a city).
  function toMetres(lat, lng) {
    var dLng = lng - site.lng;
    if (dLng > 180) dLng -= 360;
    if (dLng < -180) dLng += 360;
    return [dLng * M_PER_DEG_LNG * cosLat, (lat - site.lat) * M_PER_DEG_LAT];
  }

  function niceLength(m) {
    var p = Math.pow(10, Math.floor(Math.log10(m)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * p >= m) return steps[i] * p;
    }
    return 10 * p;
  }

  function metresText(m) {
    if (m >= 1000) return (m / 1000).toFixed(m >= 10000 ? 0 : 1) + " km";
    return Math.round(m) + " m";
  }

  function render() {
    // Fit the site, the trail and the contractor in the view.
    var pts = [[0, 0]];
    trail.forEach(function (p) { pts.push(toMetres(p[0], p[1])); });
    if (current) pts.push(toMetres(current.lat, current.lng));
    var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    pts.forEach(function (p) {
      minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]);
      minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]);
    });
    var cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    var half = Math.max((maxX - minX) / 2, (maxY - minY) / 2, MIN_HALF_M);
    var scale = (VIEW / 2 - MARGIN) / half; // px per metre
    function toView(m) {
      return [VIEW / 2 + (m[0] - cx) * scale, VIEW / 2 - (m[1] - cy) * scale];
    }

    var s = toView([0, 0]);
    el.site.setAttribute("transform", "translate(" + s[0].toFixed(1) + " " + s[1].toFixed(1) + ")");

    // Distance rings around the site: the 100 m arrival radius, then nice distances.
    while (el.rings.firstChild) el.rings.removeChild(el.rings.firstChild);
    var ring = niceLength(half / 2);
    var radii = [100];
    for (var r = ring; r <= half * 2.5 && radii.length < 6; r += ring) {
      if (r > 100) radii.push(r);
    }
    radii.forEach(function (radius, i) {
      var c = document.createElementNS(SVG_NS, "circle");
      c.setAttribute("cx", s[0].toFixed(1));
      c.setAttribute("cy", s[1].toFixed(1));
      c.setAttribute("r", (radius * scale).toFixed(1));
      if (i === 0) c.setAttribute("class", "arrival");
      el.rings.appendChild(c);
    });

    el.trail.setAttribute("points", trail.map(function (p) {
      var v = toView(toMetres(p[0], p[1]));
      return v[0].toFixed(1) + "," + v[1].toFixed(1);
    }).join(" "));

    if (current) {
      var v = toView(toMetres(current.lat, current.lng));
      el.contractor.setAttribute("transform", "translate(" + v[0].toFixed(1) + " " + v[1].toFixed(1) + ")");
      el.contractor.setAttribute("visibility", "visible");
      el.contractor.dataset.lat = String(current.lat);
      el.contractor.dataset.lng = String(current.lng);
      el.contractor.dataset.x = v[0].toFixed(1);
      el.contractor.dataset.y = v[1].toFixed(1);
      if (typeof current.heading === "number") {
        el.heading.setAttribute("transform", "rotate(" + current.heading + ")");
        el.heading.setAttribute("visibility", "visible");
      } else {
        el.heading.setAttribute("visibility", "hidden");
      }
    }
    el.site.dataset.x = s[0].toFixed(1);
    el.site.dataset.y = s[1].toFixed(1);

    var bar = niceLength(VIEW / 5 / scale);
    el.scaleBar.setAttribute("x2", (bar * scale).toFixed(1));
    el.scaleText.textContent = metresText(bar);

    renderText();
  }

  function renderText() {
    el.status.textContent = STATUS_TEXT[status] || status;
    el.status.dataset.status = status;
    var eta;
    if (status === "completed" || status === "cancelled") {
      eta = STATUS_TEXT[status];
    } else if (status === "in_progress") {
      eta = "Your contractor is working on the job";
    } else if (status === "arrived" || (status === "en_route" && etaS === 0)) {
      eta = "Your contractor has arrived";
    } else if (status === "en_route" && typeof etaS === "number") {
      eta = etaS < 60 ? "Arriving in less than a minute"
        : "Arriving in about " + Math.round(etaS / 60) + " min";
    } else if (status === "en_route") {
      eta = "Your contractor is on the way";
    } else {
      eta = "Waiting for your contractor to set off";
    }
    el.eta.textContent = eta;
    el.eta.dataset.etaS = typeof etaS === "number" ? String(etaS) : "";
    el.distance.textContent = typeof distanceM === "number" && status !== "in_progress"
      ? metresText(distanceM) + " away" : "";
    el.updated.textContent = current
      ? "Updated " + new Date(current.ts).toLocaleTimeString() : "";
  }

  function setConnection(stateName, text) {
    el.connection.dataset.state = stateName;
    el.connection.textContent = text;
  }

  function endTracking(text) {
    ended = true;
    setConnection("ended", text);
  }

  if (typeof io !== "function") {
    setConnection("error", "Live updates are unavailable.");
    render();
    return;
  }

  var socket = io(location.origin, {
    path: basePath + "/socket.io/",
    auth: { share_token: token },
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelayMax: 10000
  });

  socket.on("connect", function () {
    setConnection("joining", "Connected");
    socket.emit("job:watch", { job_id: state.job_id }, function (ack) {
      if (!ack || !ack.ok) {
        endTracking((ack && ack.error && ack.error.message) || "Tracking is unavailable.");
        return;
      }
      status = ack.job.status;
      if (ack.location) current = ack.location;
      etaS = ack.eta_s;
      distanceM = ack.distance_m;
      setConnection("live", "Live");
      render();
    });
  });

  socket.on("job:location", function (p) {
    if (!p || p.job_id !== state.job_id) return;
    current = p;
    trail.push([p.lat, p.lng]);
    if (trail.length > TRAIL_MAX) trail.splice(0, trail.length - TRAIL_MAX);
    etaS = p.eta_s;
    distanceM = p.distance_m;
    render();
  });

  socket.on("job:status", function (s) {
    if (!s || s.job_id !== state.job_id) return;
    status = s.status;
    if (status === "arrived") etaS = 0;
    render();
  });

  socket.on("auth:expired", function () {
    endTracking("This tracking link has ended.");
  });

  socket.on("connect_error", function (err) {
    var refused = err && err.data && err.data.error;
    if (refused) {
      endTracking(status === "completed" || status === "cancelled"
        ? "Tracking has ended." : "This tracking link has ended.");
    } else if (!ended) {
      setConnection("reconnecting", "Reconnecting…");
    }
  });

  socket.on("disconnect", function (reason) {
    if (reason === "io server disconnect") {
      endTracking("Tracking has ended.");
    } else if (!ended) {
      setConnection("reconnecting", "Reconnecting…");
    }
  });

  render();
})();
