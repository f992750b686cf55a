# A queued record the store refuses for a reason of its own (here a trigger
# standing in for a constraint the record breaks) is set aside in the
# dead_letters table with its bytes and the error, logged at error, and the
# records around it are stored: the queue keeps draining.  (It used to roll
# the whole batch back every second until the ring was full.)
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;
$t->wait_helper_running;

$t->sql(q{CREATE TRIGGER refuse_666 BEFORE INSERT ON outbox WHEN NEW.chatwoot_message_id = 666
          BEGIN SELECT RAISE(ABORT, 'message 666 is refused'); END});

for my $id (665, 666, 667) {
    my ($code) = $t->webhook($port, message_created(id => $id, content => "reply $id"));
    is($code, 202, "reply $id is accepted");
}
$t->wait_for(sub { $t->sql('SELECT count(*) FROM dead_letters')->[0][0] == 1 }, 10,
             'the refused record set aside');
$t->wait_for(sub { $t->status->{queue}{depth} == 0 }, 10, 'the queue drained');

is_deeply($t->sql(q{SELECT chatwoot_message_id FROM outbox ORDER BY id}), [[665], [667]],
          'the records around it are filed');
my $dead = $t->sql(q{SELECT json_extract(payload, '$.event.content'), error FROM dead_letters});
is($dead->[0][0], 'reply 666', 'the dead letter keeps the record\'s bytes');
like($dead->[0][1], qr/message 666 is refused/, 'and the error');
like($t->read_file('error.log'),
     qr/\[error\].*queued record \d+ \(\d+ bytes\) was refused by the store and set aside in the dead_letters table: .*message 666 is refused/,
     'logged at error');

# Later webhooks are not held up behind it.
my ($code) = $t->webhook($port, message_created(id => 668, content => 'reply 668'));
is($code, 202, 'a later reply is accepted');
$t->wait_for(sub { $t->sql('SELECT count(*) FROM outbox WHERE chatwoot_message_id = 668')->[0][0] == 1 },
             10, 'and filed');
is($t->sql('SELECT count(*) FROM dead_letters')->[0][0], 1, 'set aside once');

$t->finish;
done_testing;
