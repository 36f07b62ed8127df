// SqliteStore's timers and statutory clocks: the effects that schedule, cancel and record them,
// the scheduler's claims, the supervisor's lists, and the notifications clocks send to roles.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

TimerRecord read_timer(const Statement& row) {
  TimerRecord timer;
  timer.id = row.int64(0);
  timer.case_id = row.text(1);
  timer.kind = row.text(2);
  timer.name = row.text(3);
  timer.purpose = row.text(4);
  timer.event = row.optional_text(5);
  timer.due_at = row.int64(6);
  timer.occurrence = row.int64(7);
  timer.anchor_at = row.int64(8);
  timer.status = row.text(9);
  timer.fired_at = row.optional_int64(10);
  timer.note = row.optional_text(11);
  timer.created_at = row.int64(12);
  return timer;
}

constexpr int kClockRowidColumn = 14;

Result<ClockRecord> read_clock(const Statement& row) {
  ClockRecord clock;
  clock.case_id = row.text(0);
  clock.name = row.text(1);
  clock.workflow = row.text(2);
  clock.started_at = row.int64(3);
  clock.base_due_at = row.int64(4);
  clock.excluded_ms = row.int64(5);
  clock.paused_since = row.optional_int64(6);
  clock.pause_kind = row.optional_text(7);
  clock.due_at = row.optional_int64(8);
  clock.warn_at = row.optional_int64(9);
  clock.stopped_at = row.optional_int64(10);
  clock.warned_at = row.optional_int64(11);
  clock.breached_at = row.optional_int64(12);
  const Error invalid =
      make_error(Errc::storage, "clock '" + clock.name + "' of case '" + clock.case_id +
                                    "': stored log is not a list");
  boost::system::error_code ec;
  boost::json::value log = boost::json::parse(row.text(13), ec);
  if (ec || !log.is_array()) {
    return invalid;
  }
  clock.log = std::move(log.as_array());
  return clock;
}

// A list_clocks position: the last row's (due_at, rowid). The cursor is the kind letter, the
// rowid, then the due time's bits when it has one: 17 or 33 characters.
struct ClockPosition {
  std::optional<Timestamp> due_at;
  std::int64_t rowid = 0;
};

std::string encode_clock_cursor(const ClockPosition& position) {
  std::string cursor = encode_cursor(kClockCursor, position.rowid);
  if (position.due_at) {
    cursor += hex16(static_cast<std::uint64_t>(*position.due_at));
  }
  return cursor;
}

Result<std::optional<ClockPosition>> decode_clock_cursor(const std::optional<std::string>& cursor) {
  if (!cursor) {
    return std::optional<ClockPosition>{};
  }
  const std::string_view text = *cursor;
  const Error invalid = make_error(Errc::invalid_argument, "invalid cursor");
  if (text.size() != 17 && text.size() != 33) {
    return invalid;
  }
  auto rowid = decode_cursor(kClockCursor, std::string(text.substr(0, 17)));
  if (!rowid) {
    return rowid.error();
  }
  ClockPosition position;
  position.rowid = *rowid;
  if (text.size() == 33) {
    const auto due = parse_hex16(text.substr(17));
    if (!due) {
      return invalid;
    }
    position.due_at = static_cast<Timestamp>(*due);
  }
  return std::optional<ClockPosition>{position};
}

constexpr int kNotificationRowidColumn = 10;

NotificationRecord read_notification(const Statement& row) {
  NotificationRecord notification;
  notification.id = row.text(0);
  notification.case_id = row.text(1);
  notification.workflow = row.text(2);
  notification.role = row.text(3);
  notification.kind = row.text(4);
  notification.subject = row.text(5);
  notification.due_at = row.int64(6);
  notification.created_at = row.int64(7);
  notification.acknowledged_at = row.optional_int64(8);
  notification.acknowledged_by = row.optional_text(9);
  return notification;
}

// A list_notifications position: the last row's (created_at, rowid). The cursor is the kind
// letter, the rowid, then the creation time's bits: 33 characters.
struct NotificationPosition {
  Timestamp created_at = 0;
  std::int64_t rowid = 0;

  bool operator<(const NotificationPosition& other) const {
    return std::pair(created_at, rowid) < std::pair(other.created_at, other.rowid);
  }
};

std::string encode_notification_cursor(const NotificationPosition& position) {
  return encode_cursor(kNotificationCursor, position.rowid) +
         hex16(static_cast<std::uint64_t>(position.created_at));
}

// nullopt without a cursor: the page starts with the newest notification.
Result<std::optional<NotificationPosition>> decode_notification_cursor(
    const std::optional<std::string>& cursor) {
  if (!cursor) {
    return std::optional<NotificationPosition>{};
  }
  const std::string_view text = *cursor;
  const Error invalid = make_error(Errc::invalid_argument, "invalid cursor");
  if (text.size() != 33) {
    return invalid;
  }
  auto rowid = decode_cursor(kNotificationCursor, std::string(text.substr(0, 17)));
  if (!rowid) {
    return rowid.error();
  }
  const auto created = parse_hex16(text.substr(17));
  if (!created) {
    return invalid;
  }
  return std::optional<NotificationPosition>{
      NotificationPosition{static_cast<Timestamp>(*created), *rowid}};
}

}  // namespace

Result<void> SqliteStore::insert_notification_locked(const NotificationRecord& notification) {
  auto insert = prepare(
      "INSERT INTO notifications (id, case_id, workflow, role, kind, subject, due_at, created_at, "
      "acknowledged_at, acknowledged_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL)");
  if (!insert) {
    return insert.error();
  }
  insert->bind_text(1, notification.id);
  insert->bind_text(2, notification.case_id);
  insert->bind_text(3, notification.workflow);
  insert->bind_text(4, notification.role);
  insert->bind_text(5, notification.kind);
  insert->bind_text(6, notification.subject);
  insert->bind_int64(7, notification.due_at);
  insert->bind_int64(8, notification.created_at);
  return insert->run("notify role '" + notification.role + "' of case '" + notification.case_id +
                     "'");
}

Result<void> SqliteStore::insert_timer_effects_locked(const std::string& case_id, Timestamp now,
                                                      const CaseEffects& effects) {
  // Cancels first: a change that leaves a state and re-enters it cancels the old timers and
  // schedules new ones under the same names.
  for (const TimerCancel& cancel : effects.timer_cancels) {
    auto update = prepare(cancel.name ? kCancelNamedTimersSql : kCancelTimersSql);
    if (!update) {
      return update.error();
    }
    update->bind_text(1, case_id);
    update->bind_text(2, cancel.kind);
    if (cancel.name) {
      update->bind_text(3, *cancel.name);
    }
    update->bind_int64(4, now);
    if (auto r = update->run("cancel timers of case '" + case_id + "'"); !r) {
      return r.error();
    }
  }
  for (const TimerRecord& timer : effects.timers) {
    auto insert = prepare(
        "INSERT INTO timers (case_id, kind, name, purpose, event, due_at, occurrence, anchor_at, "
        "status, fired_at, note, created_at, lease_owner, lease_until) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', NULL, NULL, ?9, NULL, 0)");
    if (!insert) {
      return insert.error();
    }
    insert->bind_text(1, timer.case_id);
    insert->bind_text(2, timer.kind);
    insert->bind_text(3, timer.name);
    insert->bind_text(4, timer.purpose);
    insert->bind_optional_text(5, timer.event);
    insert->bind_int64(6, timer.due_at);
    insert->bind_int64(7, timer.occurrence);
    insert->bind_int64(8, timer.anchor_at);
    insert->bind_int64(9, timer.created_at);
    if (auto r = insert->run("schedule timer '" + timer.name + "'"); !r) {
      return r.error();
    }
  }
  for (const ClockRecord& clock : effects.clocks) {
    // An upsert, not INSERT OR REPLACE: the latter deletes the row and gives it a new rowid,
    // which would move the clock in list_clocks' order and under its cursors.
    auto upsert = prepare(
        "INSERT INTO clocks (case_id, name, workflow, started_at, base_due_at, excluded_ms, "
        "paused_since, pause_kind, due_at, warn_at, stopped_at, warned_at, breached_at, log_json) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
        "ON CONFLICT (case_id, name) DO UPDATE SET workflow = excluded.workflow, "
        "started_at = excluded.started_at, base_due_at = excluded.base_due_at, "
        "excluded_ms = excluded.excluded_ms, paused_since = excluded.paused_since, "
        "pause_kind = excluded.pause_kind, due_at = excluded.due_at, warn_at = excluded.warn_at, "
        "stopped_at = excluded.stopped_at, warned_at = excluded.warned_at, "
        "breached_at = excluded.breached_at, log_json = excluded.log_json");
    if (!upsert) {
      return upsert.error();
    }
    upsert->bind_text(1, clock.case_id);
    upsert->bind_text(2, clock.name);
    upsert->bind_text(3, clock.workflow);
    upsert->bind_int64(4, clock.started_at);
    upsert->bind_int64(5, clock.base_due_at);
    upsert->bind_int64(6, clock.excluded_ms);
    upsert->bind_optional_int64(7, clock.paused_since);
    upsert->bind_optional_text(8, clock.pause_kind);
    upsert->bind_optional_int64(9, clock.due_at);
    upsert->bind_optional_int64(10, clock.warn_at);
    upsert->bind_optional_int64(11, clock.stopped_at);
    upsert->bind_optional_int64(12, clock.warned_at);
    upsert->bind_optional_int64(13, clock.breached_at);
    upsert->bind_text(14, boost::json::serialize(clock.log));
    if (auto r = upsert->run("record clock '" + clock.name + "'"); !r) {
      return r.error();
    }
  }
  return {};
}

Result<std::vector<TimerRecord>> SqliteStore::claim_timers(Timestamp now, std::int64_t lease_ms,
                                                           std::size_t limit,
                                                           const std::string& owner) {
  if (lease_ms < 1) {
    // A lease that ends at `now` would let the next claim at the same instant take it again.
    return make_error(Errc::invalid_argument, "a timer lease must last at least 1 ms");
  }
  std::lock_guard lock(mutex_);
  // The select and the leasing update form one write transaction. BEGIN IMMEDIATE holds the
  // database's write lock from the start, so another engine's claim (another process, or another
  // SqliteStore on the same file) waits and then sees these leases; no timer is handed out twice.
  // On PostgreSQL the same shape needs SELECT ... FOR UPDATE SKIP LOCKED in the transaction: the
  // lock makes the lease update safe, and SKIP LOCKED lets concurrent claimers take the next due
  // timers instead of queueing behind one another.
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  std::vector<TimerRecord> claimed;
  {
    auto select = prepare(kClaimTimersSql);
    if (!select) {
      return select.error();
    }
    select->bind_int64(1, now);
    select->bind_int64(
        2, static_cast<std::int64_t>(std::clamp<std::size_t>(limit, 1, kMaxClaimBatch)));
    for (;;) {
      auto row = select->step("claim timers");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      claimed.push_back(read_timer(*select));
    }
  }
  for (const TimerRecord& timer : claimed) {
    auto lease = prepare("UPDATE timers SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1");
    if (!lease) {
      return lease.error();
    }
    lease->bind_int64(1, timer.id);
    lease->bind_text(2, owner);
    lease->bind_int64(3, now + lease_ms);
    if (auto r = lease->run("lease timer"); !r) {
      return r.error();
    }
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed.error();
  }
  return claimed;
}

Result<std::optional<Timestamp>> SqliteStore::next_timer_at() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(kNextTimerSql);
  if (!select) {
    return select.error();
  }
  auto row = select->step("find the next timer");
  if (!row) {
    return row.error();
  }
  if (!*row || select->is_null(0)) {
    return std::optional<Timestamp>{};
  }
  return std::optional<Timestamp>{select->int64(0)};
}

Result<void> SqliteStore::finish_timer(const TimerFinish& finish) {
  if (finish.status != "fired" && finish.status != "skipped") {
    return make_error(Errc::invalid_argument,
                      "timer " + std::to_string(finish.timer_id) +
                          ": a finished timer is 'fired' or 'skipped', not '" + finish.status +
                          "'");
  }
  const std::string what = "finish timer " + std::to_string(finish.timer_id);
  return write_grouped([&]() -> Result<void> {
    std::string case_id;
    {
      // The owner check is the claim's compare-and-set: a timer whose lease ran out and was claimed
      // again by another engine is that engine's to finish, and a cancelled one nobody's.
      auto update = prepare(
          "UPDATE timers SET status = ?2, fired_at = ?3, note = ?4 "
          "WHERE id = ?1 AND status = 'pending' AND lease_owner = ?5 RETURNING case_id");
      if (!update) {
        return update.error();
      }
      update->bind_int64(1, finish.timer_id);
      update->bind_text(2, finish.status);
      update->bind_int64(3, finish.at);
      update->bind_optional_text(4, finish.note);
      update->bind_text(5, finish.owner);
      auto row = update->step(what);
      if (!row) {
        return row.error();
      }
      if (!*row) {
        return make_error(Errc::conflict, "timer " + std::to_string(finish.timer_id) +
                                              " is no longer pending or was claimed by another "
                                              "engine");
      }
      case_id = update->text(0);
      if (auto r = update->run(what); !r) {
        return r.error();
      }
    }
    if (finish.change) {
      if (finish.change->after.id != case_id) {
        return make_error(Errc::invalid_argument,
                          "timer " + std::to_string(finish.timer_id) + " belongs to case '" +
                              case_id + "', not to case '" + finish.change->after.id + "'");
      }
      if (auto applied = apply_change_locked(*finish.change); !applied) {
        return applied.error();
      }
    }
    if (auto inserted = insert_effects_locked(case_id, finish.at, finish.effects); !inserted) {
      return inserted.error();
    }
    return {};
  });
}

Result<std::vector<TimerRecord>> SqliteStore::timers(const std::string& case_id) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_TIMER_COLUMNS
                                 " FROM timers WHERE case_id = ?1 ORDER BY due_at, id");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  std::vector<TimerRecord> out;
  for (;;) {
    auto row = select->step("list timers of case '" + case_id + "'");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.push_back(read_timer(*select));
  }
  return out;
}

Result<std::vector<ClockRecord>> SqliteStore::clocks(const std::string& case_id) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_CLOCK_COLUMNS
                                 " FROM clocks WHERE case_id = ?1 ORDER BY started_at, name");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  std::vector<ClockRecord> out;
  for (;;) {
    auto row = select->step("list clocks of case '" + case_id + "'");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    auto clock = read_clock(*select);
    if (!clock) {
      return clock.error();
    }
    out.push_back(std::move(*clock));
  }
  return out;
}

Result<ClockPage> SqliteStore::list_clocks(const ClockQuery& query) {
  std::string_view sql;
  if (query.state == "breached") {
    sql = kBreachedClocksSql;
  } else if (query.state == "warning") {
    sql = kWarningClocksSql;
  } else {
    Error e = make_error(Errc::invalid_argument, "clock state must be 'warning' or 'breached'");
    e.details["state"] = query.state;
    return e;
  }
  auto after = decode_clock_cursor(query.cursor);
  if (!after) {
    return after.error();
  }
  const std::size_t limit = clamp_limit(query.limit);

  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(sql);
  if (!select) {
    return select.error();
  }
  select->bind_int64(1, query.now);
  select->bind_optional_text(2, query.workflow);
  // The position as the sort key (due_at IS NULL, due_at or 0, rowid). Without a cursor it sits
  // before every row: rowids start at 1.
  if (*after) {
    select->bind_int64(3, (*after)->due_at ? 0 : 1);
    select->bind_int64(4, (*after)->due_at.value_or(0));
    select->bind_int64(5, (*after)->rowid);
  } else {
    select->bind_int64(3, 0);
    select->bind_int64(4, std::numeric_limits<std::int64_t>::min());
    select->bind_int64(5, 0);
  }
  select->bind_int64(6, static_cast<std::int64_t>(limit) + 1);

  ClockPage page;
  ClockPosition last;
  for (;;) {
    auto row = select->step("list " + query.state + " clocks");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    if (page.items.size() == limit) {
      page.next_cursor = encode_clock_cursor(last);
      break;
    }
    auto clock = read_clock(*select);
    if (!clock) {
      return clock.error();
    }
    last = ClockPosition{clock->due_at, select->int64(kClockRowidColumn)};
    page.items.push_back(std::move(*clock));
  }
  return page;
}

Result<NotificationPage> SqliteStore::list_notifications(const NotificationQuery& query) {
  auto after = decode_notification_cursor(query.cursor);
  if (!after) {
    return after.error();
  }
  const std::size_t limit = clamp_limit(query.limit);
  std::vector<std::string> roles = query.roles;
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());

  // Each role's newest `limit` + 1 rows after the cursor, merged: the page's rows and the one
  // that tells whether another page follows are among them. One index range per role, where an
  // IN over the roles would read every notification of them to sort.
  std::vector<std::pair<NotificationPosition, NotificationRecord>> rows;
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  for (const std::string& role : roles) {
    auto select = reading->prepare(query.unacknowledged_only ? kRoleUnacknowledgedNotificationsSql
                                                             : kRoleNotificationsSql);
    if (!select) {
      return select.error();
    }
    select->bind_text(1, role);
    select->bind_int64(2, *after ? (*after)->created_at : std::numeric_limits<Timestamp>::max());
    select->bind_int64(3, *after ? (*after)->rowid : std::numeric_limits<std::int64_t>::max());
    select->bind_int64(4, static_cast<std::int64_t>(limit) + 1);
    for (;;) {
      auto row = select->step("list notifications of role '" + role + "'");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      NotificationRecord notification = read_notification(*select);
      const NotificationPosition position{notification.created_at,
                                          select->int64(kNotificationRowidColumn)};
      rows.emplace_back(position, std::move(notification));
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return b.first < a.first; });

  NotificationPage page;
  for (auto& [position, notification] : rows) {
    if (page.items.size() == limit) {
      page.next_cursor = encode_notification_cursor(rows[limit - 1].first);
      break;
    }
    page.items.push_back(std::move(notification));
  }
  return page;
}

Result<NotificationRecord> SqliteStore::acknowledge_notification(
    const std::string& id, const std::vector<std::string>& roles, const std::string& user,
    Timestamp at) {
  const std::string what = "acknowledge notification '" + id + "'";
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  NotificationRecord notification;
  {
    auto select = prepare("SELECT " CP_NOTIFICATION_COLUMNS " FROM notifications WHERE id = ?1");
    if (!select) {
      return select.error();
    }
    select->bind_text(1, id);
    auto row = select->step(what);
    if (!row) {
      return row.error();
    }
    // Someone else's notification answers as an unknown one: its existence is not theirs to see.
    if (!*row || std::find(roles.begin(), roles.end(), select->text(3)) == roles.end()) {
      return make_error(Errc::not_found, "notification '" + id + "' not found");
    }
    notification = read_notification(*select);
  }
  if (!notification.acknowledged_at) {
    auto update = prepare(
        "UPDATE notifications SET acknowledged_at = ?2, acknowledged_by = ?3 "
        "WHERE id = ?1 AND acknowledged_at IS NULL");
    if (!update) {
      return update.error();
    }
    update->bind_text(1, id);
    update->bind_int64(2, at);
    update->bind_text(3, user);
    if (auto r = update->run(what); !r) {
      return r.error();
    }
    notification.acknowledged_at = at;
    notification.acknowledged_by = user;
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed.error();
  }
  return notification;
}

}  // namespace carepath::store
