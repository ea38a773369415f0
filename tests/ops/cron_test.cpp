// The cron.d entry as installed: a valid system crontab line that runs
// "geoblock update" monthly as root, away from 00:00 on the 1st, only on
// hosts without systemd and only once geoblock has been set up, silent on
// success and mailing the log on any failure.
//
// Its command is run here by /bin/sh the way cron runs it, with
// /usr/sbin/geoblock, /run/systemd/system and /var/lib/geoblock rewritten
// to paths of the test's own, and "sleep" replaced (through PATH) by a stub
// that records its argument instead of waiting.
#include "ops/ops_support.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace geoblock::test::ops {
namespace {

struct CronJob {
  std::vector<std::string> time; // minute hour day-of-month month day-of-week
  std::string user;
  std::string command; // after cron's own processing of '%'
};

// cron turns an unescaped '%' into a newline (the rest becomes standard
// input) and "\%" into '%'.
std::string
cron_command(const std::string& field, bool* has_bare_percent)
{
  std::string out;
  *has_bare_percent = false;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 1 < field.size() && field[i + 1] == '%') {
      out += '%';
      ++i;
    } else if (field[i] == '%') {
      *has_bare_percent = true;
      break;
    } else {
      out += field[i];
    }
  }
  return out;
}

class Cron : public ::testing::Test {
protected:
  void SetUp() override
  {
    ASSERT_TRUE(m_inst.ok()) << m_inst.log();
    m_text = read_text(m_inst / "/etc/cron.d/geoblock");
    const std::regex env(R"(^[A-Za-z_][A-Za-z0-9_]*=.*$)");
    for (const auto& raw : lines_of(m_text)) {
      const std::string line = trim(raw);
      if (line.empty() || line[0] == '#' || std::regex_match(line, env)) {
        continue;
      }
      // Five time fields, the user, then the command (the rest of the line).
      std::size_t pos = 0;
      CronJob job;
      for (int f = 0; f < 6; ++f) {
        const auto b = line.find_first_not_of(" \t", pos);
        const auto e = line.find_first_of(" \t", b);
        ASSERT_NE(e, std::string::npos) << "too few fields: " << line;
        (f < 5 ? job.time.emplace_back() : job.user) = line.substr(b, e - b);
        pos = e;
      }
      bool bare = false;
      job.command = cron_command(trim(line.substr(pos)), &bare);
      EXPECT_FALSE(bare) << "an unescaped % would cut the command: " << line;
      m_jobs.push_back(job);
    }
  }

  // Runs the job's command with the paths rewritten into `dir`; the stub
  // geoblock exits with `status` after logging one warning.
  ProcResult run_job(const TempDir& dir, int status)
  {
    const std::string stubs = dir / "bin";
    run({"mkdir", "-p", stubs});
    dir.write("bin/geoblock",
              "#!/bin/sh\n"
              "echo \"$@\" >> '" +
                  dir / "geoblock.calls" +
                  "'\n"
                  "echo 'geoblock: warning: zz: stub warning' >&2\n"
                  "exit " +
                  std::to_string(status) + "\n",
              0755);
    dir.write("bin/sleep", "#!/bin/sh\necho \"$1\" >> '" + dir / "sleep.calls" + "'\n", 0755);
    std::string cmd = m_jobs.at(0).command;
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{"/usr/sbin/geoblock", stubs + "/geoblock"},
                                                          {"/run/systemd/system", dir / "run-systemd-system"},
                                                          {"/var/lib/geoblock", dir / "state"}}) {
      EXPECT_NE(cmd.find(from), std::string::npos) << "the cron command no longer mentions " << from;
      cmd = replace_all(cmd, from, to);
    }
    return run({"/bin/sh", "-c", cmd}, {"PATH=" + stubs + ":/usr/bin:/bin", "HOME=" + dir.path()}, {},
               std::chrono::seconds(60));
  }

  Installed m_inst;
  std::string m_text;
  std::vector<CronJob> m_jobs;
};

TEST_F(Cron, OneMonthlyRootJobAwayFromMidnightOnThe1st)
{
  ASSERT_EQ(m_jobs.size(), 1u) << m_text;
  const CronJob& job = m_jobs[0];
  EXPECT_EQ(job.user, "root");
  auto number = [](const std::string& s, int lo, int hi) {
    EXPECT_TRUE(std::regex_match(s, std::regex("[0-9]+"))) << "'" << s << "' is not one value";
    const int v = std::atoi(s.c_str());
    EXPECT_GE(v, lo) << s;
    EXPECT_LE(v, hi) << s;
    return v;
  };
  const int minute = number(job.time[0], 0, 59);
  const int hour = number(job.time[1], 0, 23);
  // A day every month has, so the job runs every month.
  const int day = number(job.time[2], 1, 28);
  EXPECT_EQ(job.time[3], "*");
  EXPECT_EQ(job.time[4], "*");
  EXPECT_FALSE(minute == 0 && hour == 0 && day == 1) << "everyone at 00:00 on the 1st";
  EXPECT_NE(minute, 0) << "on the hour, with every other cron job";
  EXPECT_NE(job.command.find("update"), std::string::npos);

  // cron.d file names with a dot are ignored by Debian's cron; the file must
  // end with a newline or the last line is ignored.
  EXPECT_FALSE(m_text.empty());
  EXPECT_EQ(m_text.back(), '\n');
  const ProcResult sh = run({"/bin/sh", "-n", "-c", job.command});
  EXPECT_EQ(sh.status, 0) << sh.both();
}

TEST_F(Cron, SilentOnSuccess)
{
  ASSERT_EQ(m_jobs.size(), 1u);
  TempDir dir;
  run({"mkdir", dir / "state"});
  const ProcResult r = run_job(dir, 0);
  EXPECT_EQ(r.status, 0) << r.both();
  EXPECT_EQ(r.both(), "") << "cron would mail this every month";
  EXPECT_EQ(read_text(dir / "geoblock.calls"), "update\n");
}

TEST_F(Cron, MailsTheLogAndStatusOnFailureOrPartial)
{
  ASSERT_EQ(m_jobs.size(), 1u);
  for (const int status : {1, 2, 3, 4}) {
    TempDir dir;
    run({"mkdir", dir / "state"});
    const ProcResult r = run_job(dir, status);
    // Whatever cron receives on stdout/stderr is mailed to root.
    EXPECT_NE(r.both().find("geoblock: warning: zz: stub warning"), std::string::npos) << r.both();
    EXPECT_NE(r.both().find("exit status " + std::to_string(status)), std::string::npos) << r.both();
  }
}

TEST_F(Cron, DoesNothingOnSystemdHosts)
{
  ASSERT_EQ(m_jobs.size(), 1u);
  TempDir dir;
  run({"mkdir", dir / "state"});
  run({"mkdir", dir / "run-systemd-system"});
  const ProcResult r = run_job(dir, 0);
  EXPECT_EQ(r.both(), "");
  EXPECT_FALSE(exists(dir / "geoblock.calls")) << "the timer runs it there; cron must not run it twice";
  EXPECT_FALSE(exists(dir / "sleep.calls"));
}

TEST_F(Cron, DoesNothingBeforeTheFirstUpdate)
{
  ASSERT_EQ(m_jobs.size(), 1u);
  TempDir dir; // no state directory: never set up
  const ProcResult r = run_job(dir, 2);
  EXPECT_EQ(r.both(), "") << "no monthly mail from an unconfigured host";
  EXPECT_FALSE(exists(dir / "geoblock.calls"));
}

TEST_F(Cron, DelayIsBelowAnHourAndFixedPerHost)
{
  ASSERT_EQ(m_jobs.size(), 1u);
  std::vector<std::string> delays;
  for (int i = 0; i < 2; ++i) {
    TempDir dir;
    run({"mkdir", dir / "state"});
    run_job(dir, 0);
    ASSERT_TRUE(exists(dir / "sleep.calls")) << "no delay before the update";
    delays.push_back(trim(read_text(dir / "sleep.calls")));
  }
  ASSERT_TRUE(std::regex_match(delays[0], std::regex("[0-9]+"))) << delays[0];
  EXPECT_LT(std::stol(delays[0]), 3600);
  EXPECT_EQ(delays[0], delays[1]);
}

} // namespace
} // namespace geoblock::test::ops
