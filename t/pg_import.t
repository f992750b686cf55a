# The PostgreSQL import against a real PostgreSQL with Chatwoot's tables:
# ChatwootTest::Postgres starts Debian's server in a temporary directory
# and loads t/data/chatwoot_schema.sql; build/core/pg_import_tests (the
# writer on a poll() loop, GoogleTest) writes chats into it as the import
# role and reads them back as the superuser: WhatsApp's timestamps, a rerun
# writes nothing, a refused message fails alone, the checks refuse a
# missing table, a foreign inbox and an unknown schema version, and a server
# crashed mid-chat rolls the chat back and a retry completes it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatwootTest::Postgres;

my $binary = "$FindBin::Bin/../build/core/pg_import_tests";
-x $binary or BAIL_OUT("$binary is missing: cmake --build build/core --target pg_import_tests");

my $pg = ChatwootTest::Postgres->start;
like($pg->value('SELECT max(version) FROM schema_migrations'), qr/^\d{14}$/,
     'the schema is loaded');

local $ENV{CHATWOOT_PG_URL} = $pg->url;
local $ENV{CHATWOOT_PG_ADMIN} = "host=$pg->{dir} port=" . $pg->port
                               . ' user=postgres dbname=' . $pg->database;
# The crash and the restart, as shell commands the test binary runs at the
# moment it chooses (pg_ctl as the server's user; -w waits for the event).
my @as = $pg->{user} ? ('runuser', '-u', $pg->{user}, '--') : ();
my $ctl = join ' ', @as, "$pg->{bin}/pg_ctl", '-D', $pg->{data};
my $opts = "-p " . $pg->port . " -k $pg->{dir} -c listen_addresses=127.0.0.1 -c fsync=off";
local $ENV{CHATWOOT_PG_STOP} = "$ctl -m immediate -w stop >/dev/null";
local $ENV{CHATWOOT_PG_START} = "$ctl -l $pg->{dir}/server.log -o '$opts' -w start >/dev/null";

my $out = `$binary --gtest_brief=1 2>&1`;
my $rc = $? >> 8;
is($rc, 0, 'pg_import_tests pass against the real server') or diag $out;
my ($passed) = $out =~ /\[  PASSED  \] (\d+) tests?/;
cmp_ok($passed // 0, ">=", 14, 'every case ran (none skipped for want of a server)')
    or diag $out;
unlike($out, qr/SKIPPED/, 'nothing skipped');

# What the import role was granted is all it needs: nothing it wrote is in
# a table it may not touch.
is($pg->value("SELECT count(*) FROM conversations WHERE display_id IS NULL"), 0,
   'every conversation got its display_id from Chatwoot\'s trigger');
is($pg->value("SELECT count(*) FROM (SELECT inbox_id, source_id FROM messages"
              . " WHERE source_id LIKE 'WAID:%' GROUP BY 1, 2 HAVING count(*) > 1) d"), 0,
   'no message twice in an inbox');
unlike($pg->server_log, qr/PANIC/, 'the server log has no PANIC');

$pg->shutdown;
done_testing;
