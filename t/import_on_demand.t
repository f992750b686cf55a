# History on demand during an import (issue 12, the source's last
# sentence): a chat whose stored history starts after the window's start
# is asked of the phone (a peer message: HISTORY_SYNC_ON_DEMAND naming its
# oldest stored message) before it is imported, again while the answers
# bring older messages inside the window, until an answer without messages.
# The phone (the loopback server) holds more than it sent (POST
# phone-history).  Afterwards: the older messages inside the window are in
# Chatwoot once, in order, nothing outside it; the status counts them; a
# chat whose store reaches the window's start is not asked; a chat the
# phone has nothing more of is asked once, and a second job (a second
# helper, after a kill) does not ask it again.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my $dir = $t->dir;
# The on-demand chunks come as blobs on the media host (TLS).
my $wa = ChatwootTest::WaMock->start_tls_media($t);
my ($port) = $t->start_wa(
    wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"),
    server => "        location /chatwoot/sync { chatwoot_import; }\n",
    inbox => { extra => "        concurrency 2;\n" });
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $now = time;
my $day = 86400;

sub api {
    my ($method, $path, $body) = @_;
    my ($code, undef, $text) = $t->http($port, $method, "/chatwoot/sync$path",
        defined $body ? (body => encode_json($body),
                         headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, eval { decode_json($text) } // { raw => $text });
}

sub wait_job {
    my ($id, $want, $timeout) = @_;
    return $t->wait_for(sub { my $j = (api(GET => "/$id"))[1]; $j->{state} eq $want ? $j : undef },
                        $timeout // 90, "import $id: $want");
}

sub by_waid { ChatwootTest::FakeChatwoot->messages_by_waid($fake) }

sub asks { [grep { $_->{type} eq 'history-on-demand' } @{$wa->events(type => 'history-on-demand')}] }

# Dee (by phone number): the phone sent her newest 10; it holds 100 more:
# 30 older than the window, 70 inside it.  Asked 50 at a time, the phone
# answers twice with messages; the second answer reaches past the window.
my $dee = '4915100000004@s.whatsapp.net';
my @dee_sent = map { { id => sprintf('D%03d', $_), timestamp => $now - $day + $_, text => "dee $_" } } 101 .. 110;
my @dee_out = map { { id => sprintf('D%03d', $_), timestamp => $now - 20 * $day + $_ * 60, text => "dee $_" } } 1 .. 30;
my @dee_in = map { { id => sprintf('D%03d', $_), timestamp => $now - 6 * $day + $_ * 60, text => "dee $_" } } 31 .. 100;
# Eve (by LID, her number known): the phone has nothing more of her.
my $eve_lid = '900000000005@lid';
my $eve_pn = '4915100000005@s.whatsapp.net';
my @eve = map { { id => "E$_", timestamp => $now - 2 * $day + $_, text => "eve $_" } } 1 .. 3;
# Fay: the store reaches the window's start already (a message 8 days old).
my $fay = '4915100000006@s.whatsapp.net';
my @fay = ({ id => 'F0', timestamp => $now - 8 * $day, text => 'fay old' },
           { id => 'F1', timestamp => $now - 3 * $day, text => 'fay 1' });
$wa->phone_history(conversations => [{ jid => $dee, name => 'Dee', messages => [@dee_out, @dee_in] }]);
{
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(type => 'recent', inline => 1, chunk_order => 0, progress => 100,
        conversations => [
            { jid => $dee, name => 'Dee', messages => \@dee_sent },
            { jid => $eve_lid, pn_jid => $eve_pn, name => 'Eve', messages => \@eve },
            { jid => $fay, name => 'Fay', messages => \@fay },
        ]);
    $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
}
my $asks_before = scalar @{asks()};

my ($code, $j) = api(POST => '', { inbox => 'main', days => 7 });
is($code, 202, 'the import: 202');
my $done = wait_job($j->{id}, 'completed');

my @asks = @{asks()}[$asks_before .. $#{asks()}];
my @dee_asks = grep { $_->{chat} eq $dee } @asks;
is(scalar @dee_asks, 2, 'Dee: asked twice (the first answer still inside the window)');
is($dee_asks[0]{oldest_id}, 'D101', '... first before her oldest stored message');
is($dee_asks[0]{oldest_ms}, $dee_sent[0]{timestamp} * 1000, '... with its time in ms');
is($dee_asks[0]{count}, 50, '... 50 at a time');
is($dee_asks[1]{oldest_id}, 'D051', '... then before the oldest the answer brought');
is_deeply([map { @{$_->{sent}} } @dee_asks], [(map { $_->{id} } @dee_in[20 .. 69]),
          (map { $_->{id} } @dee_out, @dee_in[0 .. 19])], '... the phone sent 100 older messages');
my @eve_asks = grep { $_->{chat} eq $eve_lid } @asks;
is(scalar @eve_asks, 1, 'Eve: asked once (by her LID chat, where the store has her)');
is_deeply($eve_asks[0]{sent}, [], '... answered without messages');
is(scalar(grep { $_->{chat} eq $fay } @asks), 0, 'Fay: not asked (the store reaches the window)');

my $by = by_waid();
my @want = (@dee_in, @dee_sent, @eve, $fay[1]);
is(scalar(grep { @{$by->{$_->{id}} // []} == 1 } @want), scalar @want,
   'every message of the window once in Chatwoot, the ones the phone sent on demand too');
is(scalar(grep { $by->{$_->{id}} } @dee_out, $fay[0]), 0, 'nothing outside the window');
{
    my ($conv) = grep { grep { ($_->{source_id} // '') eq 'WAID:D031' } @{$_->{messages}} }
        @{ChatwootTest::FakeChatwoot->get_state($fake)->{conversations}};
    my @ids = map { ($_->{source_id} // '') =~ /^WAID:(.+)/ ? $1 : () } @{$conv->{messages}};
    is_deeply(\@ids, [map { $_->{id} } @dee_in, @dee_sent], 'Dee\'s conversation: oldest first');
}
is($done->{messages_total}, scalar @want, 'status: the window\'s messages, those brought on demand too');
is($done->{messages_done}, scalar @want, 'status: posted = the fake\'s');
is($done->{messages_failed}, 0, 'status: none failed');

# A second helper and a second job: nothing is asked again (Dee's store
# reaches the window now; Eve's phone said there is no more), nothing new.
{
    my $since = $wa->last_seq;
    $t->kill_helper_busy(ready => sub { 1 }, busy => sub { 0 }, what => 'the helper between imports');
    $t->wait_helper_running;
    $wa->wait_match('passive', since => $since, timeout => 30);
}
my $asks_now = scalar @{asks()};
($code, $j) = api(POST => '', { inbox => 'main', days => 7 });
is($code, 202, 'a second import: 202');
my $again = wait_job($j->{id}, 'completed');
is($again->{messages_done}, 0, 'a second import: nothing posted');
is($again->{messages_skipped}, scalar @want, 'a second import: all skipped');
is(scalar @{asks()}, $asks_now, 'a second import: the phone not asked again');

$t->finish;
done_testing;
