# The bridge under fire: 1,000 WhatsApp messages over 50 chats (1:1 and
# groups, with replies and images) into a fake Chatwoot that answers 30% of requests
# with 429 (rack-attack's, without Retry-After) or 5xx, loses some answers
# after doing the work, while the helper is killed twice.  Afterwards every
# message is in Chatwoot exactly once, in order per conversation, with one
# contact and one conversation per chat.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time);
use Digest::SHA qw(sha256_hex);

my ($CHATS, $GROUPS, $TOTAL) = (50, 10, 1000);
my $JSON = JSON::PP->new->canonical->utf8;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
# Chatwoot's flood guard (200 messages a minute per conversation) would
# only slow this test down; it is raised, the faults are injected instead.
my ($fake, $device, $port) = $t->start_bridge(
    fake => { flood_limit => 100_000 },
    extra => "concurrency 16;\nthrottle_backoff 20ms 200ms;\n");

ChatwootTest::FakeChatwoot->set_faults($fake,
    { kind => '429_plain', probability => 0.15, seed => 7 },
    { kind => '500', probability => 0.08 },
    { kind => '503', probability => 0.07 },
    { kind => 'lost_answer', probability => 0.05 },
);

my @chats = map {
    $_ <= $GROUPS ? sprintf('1203630000000000%02d@g.us', $_)
                  : sprintf('55119%08d@s.whatsapp.net', $_)
} 1 .. $CHATS;
my @messages;
for my $i (0 .. $TOTAL - 1) {
    my $c = $i % $CHATS;
    my $n = int($i / $CHATS) + 1;
    my $chat = $chats[$c];
    push @messages, {
        id => "C${c}M$n", chat => $chat, text => "message $n of chat $c",
        ($chat =~ /g\.us$/ ? (chat_name => "Group $c", sender => '5511900000001@s.whatsapp.net',
                              push_name => 'Member') : (push_name => "Contact $c")),
        ($n == 3 ? (reply_to => "C${c}M1") : ()),
        ($n == 5 ? (attachments => [{ file => "C${c}M5.png", mime => 'image/png',
                                      name => "picture $c.png" }]) : ()),
    };
}
my %image;   # source id -> sha256 of what the device had
for my $m (grep { $_->{attachments} } @messages) {
    my $bytes = "\x89PNG\r\n\x1a\n" . "$m->{id} " x 2000;
    open my $fh, '>:raw', "$device/$m->{attachments}[0]{file}" or die $!;
    print {$fh} $bytes;
    close $fh;
    $image{"WAID:$m->{id}"} = sha256_hex($bytes);
}
sub write_batch {
    my ($from, $to) = @_;
    for my $i ($from .. $to) {
        my $name = sprintf '%s/%06d.json', $device, $i;
        open my $fh, '>', "$name.tmp" or die $!;
        print {$fh} $JSON->encode($messages[$i]);
        close $fh;
        rename "$name.tmp", $name or die $!;
    }
}

# Each kill lands while the helper is at work, a quarter of the way into
# its batch: some messages posted, some still pending, as the frozen
# helper's store shows at kill time (a kill after the work is done would
# prove nothing).
my ($done, $left) = (0, 0);
my $busy = sub {
    my $before = $done;
    ($done, $left) = map { $_ // 0 }
        @{$t->sql(q{SELECT sum(state = 'posted'), sum(state = 'pending') FROM wa_inbound})->[0]};
    $done > $before && $left > 0;
};
my $t0 = time;
write_batch(0, 399);
ok($t->kill_helper_busy(ready => sub { $_[0]{bridge}{whatsapp_posted} >= 100 }, busy => $busy,
                        timeout => 60, what => 'the helper posting'),
   "the first kill landed mid-work ($done posted, $left pending)");
my $counted = $t->status->{bridge}{whatsapp_posted};
write_batch(400, 799);
ok($t->kill_helper_busy(ready => sub { $_[0]{bridge}{whatsapp_posted} >= $counted + 100 }, busy => $busy,
                        timeout => 60, what => 'the restarted helper posting'),
   "the second kill landed mid-work, after the restarted helper posted more ($done posted, $left pending)");
write_batch(800, $TOTAL - 1);

$t->wait_for(sub {
    my $s = $t->status;
    $s->{helper}{state} eq 'running'
        && !$t->sql(q{SELECT count(*) FROM wa_inbound WHERE state = 'pending'})->[0][0]
        && $t->sql('SELECT count(*) FROM wa_inbound')->[0][0] == $TOTAL;
}, 240, 'every message handled');
diag sprintf 'handled %d messages in %.1f s', $TOTAL, time - $t0;

my $state = ChatwootTest::FakeChatwoot->get_state($fake);
my (%seen, %per_conv);
for my $conv (@{$state->{conversations}}) {
    for my $m (@{$conv->{messages}}) {
        $seen{$m->{source_id}}++;
        push @{$per_conv{$conv->{display_id}}}, $m->{source_id};
    }
}
is(scalar(keys %seen), $TOTAL, 'every message is in Chatwoot');
my @dups = grep { $seen{$_} > 1 } sort keys %seen;
is(scalar @dups, 0, 'none twice') or diag "@dups[0 .. ($#dups < 9 ? $#dups : 9)]";
is(scalar @{$state->{contacts}}, $CHATS, 'one contact per chat');
is(scalar @{$state->{conversations}}, $CHATS, 'one conversation per chat');
my $out_of_order = 0;
for my $list (values %per_conv) {
    my @n = map { /M(\d+)$/ ? $1 : 0 } @$list;
    $out_of_order++ if join(',', @n) ne join(',', sort { $a <=> $b } @n);
}
is($out_of_order, 0, 'order kept in every conversation');
my ($replies) = grep { @$_ } [grep { ($_->{content_attributes}{in_reply_to_external_id} // '') =~ /^WAID:C\d+M1$/ }
                                map { @{$_->{messages}} } @{$state->{conversations}}];
is(scalar @$replies, $CHATS, 'every chat has its reply linked');
my %got_image = map { $_->{source_id} => join(',', map { $_->{sha256} } @{$_->{attachments} // []}) }
                grep { $image{$_->{source_id}} } map { @{$_->{messages}} } @{$state->{conversations}};
is_deeply(\%got_image, \%image, 'every image is there once, with its bytes');
is_deeply($t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state}), [['posted', $TOTAL]],
          'the store has all posted');
my %faults;
$faults{$_->{fault}}++ for grep { $_->{fault} } @{$state->{requests}};
my $requests = @{$state->{requests}};
diag 'faults: ' . join(', ', map { "$_ x $faults{$_}" } sort keys %faults) . " of $requests requests";
ok($faults{'429_plain'} && $faults{500} && $faults{503} && $faults{lost_answer}, 'every fault kind happened');
my $bridge = $t->status->{bridge};
# The counter lives in shared memory, the truth in SQLite: a kill between
# a commit and the count loses that one count (two kills here), never adds.
ok($bridge->{whatsapp_posted} <= $TOTAL && $bridge->{whatsapp_posted} >= $TOTAL - 2,
   "status counts each message at most once, across the kills ($bridge->{whatsapp_posted})");
is($bridge->{whatsapp_failed}, 0, 'and none failed');
ok($bridge->{api_retries} > 100, "retries are counted ($bridge->{api_retries})");

$t->finish;
done_testing;
