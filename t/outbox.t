# The helper files what agents asked for once per Chatwoot message, even
# when the same webhook comes back after a restart (the shared replay filter
# is gone then) or Chatwoot delivers the same message again under another
# delivery id.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created message_updated status_changed typing);
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;
$t->wait_helper_running;

my $reply = message_created(id => 501, content => 'once only');
my $ts = time;
my $delivery = 'bbbbbbbb-0000-4000-8000-000000000001';
my ($code) = $t->webhook($port, $reply, ts => $ts, delivery => $delivery);
is($code, 202, 'the reply is accepted');
($code) = $t->webhook($port, message_created(id => 501, content => 'once only', conversation => 15),
                      delivery => 'bbbbbbbb-0000-4000-8000-000000000002', ts => $ts + 1);
is($code, 202, 'Chatwoot resending the same message (new delivery, new signature) is accepted');
($code) = $t->webhook($port, message_updated(id => 501, content_attributes => { deleted => JSON::PP::true }));
is($code, 202, 'its deletion is accepted');
($code) = $t->webhook($port, status_changed(status => 'resolved'));
is($code, 202, 'a status change is accepted');
($code) = $t->webhook($port, typing(on => 1));
is($code, 202, 'typing is accepted');
$t->wait_for(sub { $t->status->{store}{persisted} == 5 }, 5, 'five persisted');

# A restart forgets the shared replay filter: the very same request again.
$t->stop;
$t->run;
$t->wait_helper_running;
($code) = $t->webhook($port, $reply, ts => $ts, delivery => $delivery);
is($code, 202, 'after a restart the replay reaches the helper');
$t->wait_for(sub { $t->status->{queue}{depth} == 0 && $t->status->{store}{persisted} == 5 },
             5, 'drained');

is_deeply($t->sql('SELECT count(*) FROM inbound_events'), [[5]],
          'the store kept one row per delivery id');
my $outbox = $t->sql(q{SELECT o.action, o.chatwoot_message_id, o.conversation_id, o.state,
                              json_extract(i.payload, '$.event.content')
                       FROM outbox o JOIN inbound_events i ON i.id = o.inbound_id ORDER BY o.id});
# (A status change has nothing to do on WhatsApp: the sender settles it at
# its next tick, which comes right after the records' wake-up; the send and
# the deletion wait, with no device to take them.)
$_->[3] = 'pending or sent' for grep { $_->[0] eq 'status' && $_->[3] =~ /^(?:pending|sent)$/ } @$outbox;
is_deeply($outbox, [
    ['send', 501, 15, 'pending', 'once only'],
    ['delete', 501, 15, 'pending', undef],
    ['status', undef, 15, 'pending or sent', undef],
], 'the outbox holds the send once, the deletion and the status change; typing is no job');

$t->finish;
done_testing;
