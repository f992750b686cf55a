#!/usr/bin/perl
# Messages per second the PostgreSQL import writes (issue 12's benchmark,
# target >= 5,000 msg/s): a real PostgreSQL with Chatwoot's tables
# (ChatwootTest::Postgres), build/core/pg_import_bench writing 200 chats x
# 100 messages over 4 connections, then the same again (all skipped).
#   perl t/bench/import_pg.pl [chats] [messages] [writers]
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest::Postgres;

my $bench = "$FindBin::Bin/../../build/core/pg_import_bench";
-x $bench or die "$bench is missing: cmake --build build/core --target pg_import_bench\n";
my ($chats, $messages, $writers) = (@ARGV, 200, 100, 4)[0 .. 2];
# fsync on: the figure includes each chat's commit reaching the disk.
my $pg = ChatwootTest::Postgres->start(durable => 1);
system($bench, $pg->url, $chats, $messages, $writers);
my $rc = $? >> 8;
my $rows = $pg->value('SELECT count(*) FROM messages');
print "  rows in messages: $rows\n";
$pg->shutdown;
exit $rc;
