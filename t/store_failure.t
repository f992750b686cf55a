# A store that cannot be opened: the helper says so (status "failed", an
# [error] line), webhooks keep queueing, and once the cause is gone the
# helper opens the store and commits the queue without losing anything.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
my $state = $t->dir . '/state';
# A directory where the database file should be: SQLite cannot open it.
mkdir $state;
mkdir "$state/chatwoot.db";
if (defined(my $user = ChatwootTest::worker_user())) {
    my ($uid, $gid) = (getpwnam $user)[2, 3];
    chown $uid, $gid, $state, "$state/chatwoot.db";
}
$t->write_config($t->chatwoot_http(port => $port))->run;

my $s = $t->wait_for(sub { my $st = $t->status; $st->{helper}{state} eq 'failed' ? $st : undef },
                     5, 'helper reports failure');
ok(!$s->{helper}{active}, 'a failed helper is not active');
like($t->read_file('error.log'), qr/\[error\].*cannot open the store in "\Q$state\E".*retrying in 5000 ms/,
     'the cause is logged at error');

for my $i (1 .. 5) {
    my ($code) = $t->webhook($port, message_created(id => $i, content => "kept-$i"));
    is($code, 202, "webhook $i still accepted into the queue");
}
is($t->status->{queue}{depth}, 5, 'five waiting');

rmdir "$state/chatwoot.db" or die $!;
$s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{helper}{state} eq 'running' && $st->{queue}{depth} == 0 ? $st : undef;
}, 10, 'helper recovers');
is($s->{store}{persisted}, 5, 'the queue was committed after recovery');
is_deeply($t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id}),
          [map { ["kept-$_"] } 1 .. 5], 'in order');

$t->allow_log(qr/\[error\].*cannot open the store/);
$t->finish;
done_testing;
