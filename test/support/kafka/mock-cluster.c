/*
 * A Kafka-protocol broker for tests: librdkafka's mock cluster (Debian librdkafka-dev). Prints the bootstrap
 * address on its first line, then takes one command per line on stdin and answers "ok" (or "error ..."):
 *   topic NAME PARTITIONS   create a topic (replication = min(3, brokers))
 *   down BROKER_ID          take a broker down (connections refused/closed)
 *   up BROKER_ID            bring it back
 * Exits (destroying the cluster) when stdin closes.
 * Build: cc -O2 -o mock-cluster mock-cluster.c -lrdkafka
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  if (brokers < 1) brokers = 1;
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    char cmd[64] = "", arg[512] = "";
    int n = 0;
    if (sscanf(line, "%63s %511s %d", cmd, arg, &n) < 1) continue;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!strcmp(cmd, "topic")) err = rd_kafka_mock_topic_create(mc, arg, n > 0 ? n : 1, brokers < 3 ? brokers : 3);
    else if (!strcmp(cmd, "down")) err = rd_kafka_mock_broker_set_down(mc, atoi(arg));
    else if (!strcmp(cmd, "up")) err = rd_kafka_mock_broker_set_up(mc, atoi(arg));
    else {
      printf("error unknown command %s\n", cmd);
      fflush(stdout);
      continue;
    }
    if (err) printf("error %s\n", rd_kafka_err2str(err));
    else printf("ok\n");
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
