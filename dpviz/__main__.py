from dpviz.cli.main import run

run()
