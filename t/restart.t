# Across a full stop and start: what was queued when nginx was told to stop
# is committed by the helper on its way out, and store.persisted counts the
# rows of earlier runs.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;

# The first run: three webhooks committed as usual, three queued while the
# helper is frozen, then QUIT.  Returns how many records the helper says it
# committed on its way out.
sub first_run {
    my ($t, $port) = @_;
    $t->write_config($t->chatwoot_http(port => $port))->run;
    my $s = $t->wait_helper_running;

    for my $i (1 .. 3) {
        my ($code) = $t->webhook($port, message_created(id => $i, content => "first-$i"));
        is($code, 202, "first run, webhook $i accepted");
    }
    $t->wait_for(sub { $t->status->{store}{persisted} == 3 }, 5, 'three persisted');

    # Freeze the helper, queue more, then stop nginx: the helper gets QUIT
    # only once it runs again, and must commit the queue before it exits.
    my $helper = $s->{helper}{pid};
    kill 'STOP', $helper;
    for my $i (4 .. 6) {
        my ($code) = $t->webhook($port, message_created(id => $i, content => "queued-$i"));
        is($code, 202, "webhook $i queued while the helper is frozen");
    }
    is($t->status->{queue}{depth}, 3, 'three waiting in the queue');
    $t->signal('QUIT');
    # The master closes its listening sockets once it has told every child
    # to quit: from then on the QUIT waits in the frozen helper's channel.
    $t->wait_port_closed($port);
    kill 'CONT', $helper;
    $t->stop;
    my ($n) = $t->read_file('error.log')
        =~ /chatwoot helper exiting, (\d+) queued records? committed on the way out/;
    return $n // 0;
}

# The helper's slow poll timer (1 s) may come due in the same turn of its
# event loop as the QUIT and drain the queue the ordinary way before it
# exits: that run proves nothing about the way out, so it is run again on a
# fresh nginx (bounded).
my ($t, $port, $on_exit);
for my $attempt (1 .. 5) {
    $t = ChatwootTest->new;
    $port = free_port();
    $on_exit = first_run($t, $port);
    last if $on_exit == 3;
    diag "attempt $attempt: the helper committed $on_exit, not 3, on its way out "
        . '(its poll timer may have drained the queue first); again';
    $t->check_log("attempt $attempt: no unexpected alert, crit, emerg or sanitizer line");
}
is($on_exit, 3, 'the helper committed the three queued records on its way out');

is_deeply($t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id}),
          [(map { ["first-$_"] } 1 .. 3), (map { ["queued-$_"] } 4 .. 6)],
          'the queue was committed on the way out');

$t->run;
my $s = $t->wait_helper_running;
is($s->{store}{persisted}, 6, 'a new nginx counts the rows already stored');
is($s->{queue}{enqueued}, 0, 'with a new queue');
is($s->{helper}{restarts}, 0, 'and a first helper');
my ($code, undef, $body) = $t->webhook($port, message_created(id => 7, content => 'second-run'));
is($code, 202, 'second run accepts');
like($body, qr/"seq":1\}/, 'its ring starts over at 1');
$t->wait_for(sub { $t->status->{store}{persisted} == 7 }, 5, 'seven persisted');
my $rows = $t->sql('SELECT count(DISTINCT ring_epoch) FROM inbound_events');
is($rows->[0][0], 2, 'the two runs have different ring epochs, so no key clash');

$t->finish;
done_testing;
